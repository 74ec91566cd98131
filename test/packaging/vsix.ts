// Builds the linux-x64 .vsix (scripts/package-vsix.mjs, what `npm run package` runs after the build) into a
// folder, for the tests that install it into code-server.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './install.js';

/** Packages the built repository as a .vsix in `destDir`; `vscodeEngine` declares another engines.vscode. Returns its path. */
export async function buildVsix(destDir: string, options: { vscodeEngine?: string; name?: string } = {}): Promise<{ file: string; log: string }> {
  const file = path.join(destDir, options.name ?? 'imgcls-linux-x64.vsix');
  const args = [path.join(REPO_ROOT, 'scripts', 'package-vsix.mjs'), '--out', file];
  if (options.vscodeEngine) args.push('--vscode-engine', options.vscodeEngine);
  const { stdout, stderr } = await promisify(execFile)(process.execPath, args, { cwd: REPO_ROOT, maxBuffer: 64 << 20 });
  return { file, log: stdout + stderr };
}
