import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** The suffix of temporary files written by writeFileAtomic; removeStaleTempFiles cleans them. */
export const TEMP_SUFFIX = '.partial';

/** Options of writeFileAtomic. */
export interface AtomicWriteOptions {
  /**
   * fsync the file and its folder so the new content survives a power cut. Default true; a cache
   * entry that is only recomputed when lost passes false.
   */
  sync?: boolean;
}

/**
 * Writes `data` to `file` so that readers see either the old file or the complete new one, even if
 * the process is killed: write a temp file in the same folder, fsync it, rename it over `file`,
 * fsync the folder.
 */
export async function writeFileAtomic(
  file: string,
  data: Uint8Array | string | readonly Uint8Array[],
  options: AtomicWriteOptions = {},
): Promise<void> {
  const sync = options.sync ?? true;
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true });
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}-${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`);
  const handle = await fs.open(temp, 'w');
  try {
    await handle.writeFile(typeof data === 'string' || data instanceof Uint8Array ? data : Buffer.concat(data));
    if (sync) await handle.sync();
  } catch (err) {
    await handle.close();
    await fs.rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await fs.rename(temp, file);
  } catch (err) {
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw err;
  }
  if (sync) await syncDir(dir);
}

/**
 * Makes `target` a second name of the complete file `source` (a hard link, renamed into place so
 * readers never see a partial file); copies through writeFileAtomic where links are not supported.
 */
export async function linkFileAtomic(source: string, target: string): Promise<void> {
  const dir = path.dirname(target);
  const temp = path.join(dir, `.${path.basename(target)}.${process.pid}-${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`);
  try {
    await fs.link(source, temp);
  } catch {
    await writeFileAtomic(target, await fs.readFile(source));
    return;
  }
  await fs.rename(temp, target);
  await syncDir(dir);
}

async function syncDir(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch {
    // some file systems cannot fsync a folder; the rename is still atomic
  } finally {
    await handle?.close();
  }
}

/** Removes temp files a killed writer left in `dir`; returns their names. */
export async function removeStaleTempFiles(dir: string): Promise<string[]> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const stale = names.filter((name) => name.startsWith('.') && name.endsWith(TEMP_SUFFIX));
  await Promise.all(stale.map((name) => fs.rm(path.join(dir, name), { force: true })));
  return stale;
}
