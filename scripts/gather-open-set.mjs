#!/usr/bin/env node
// Gathers the open-set images of bench:openset: photos, graphics, icons, screenshots, diagrams and
// wallpapers that are neither logo posters nor cats, copied from Debian packages into
// .cache/openset/images/ (git-ignored, never committed) with a manifest.json naming each file's source.
//
//   node scripts/gather-open-set.mjs            # prints the folder; downloads the .debs once with apt-get download
//   node scripts/gather-open-set.mjs --list     # also prints every file and its source
//
// The packages are downloaded (`apt-get download`, no root needed) into .cache/openset/debs/ and
// unpacked there with dpkg-deb; nothing is installed on the system. Only the packages listed below are
// used: the images DEVELOPERS.md keeps for the independent check are never gathered.
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROOT = path.join(REPO_ROOT, '.cache', 'openset');
const DEBS = path.join(ROOT, 'debs');
const IMAGES = path.join(ROOT, 'images');
const MANIFEST = path.join(IMAGES, 'manifest.json');

/** Which files of each package: a path pattern, then a pick over the sorted matches. */
const SOURCES = [
  {
    // photos and abstract wallpapers: the largest image of each of the 30 wallpapers (JPEG and PNG)
    package: 'plasma-workspace-wallpapers',
    match: /^\.\/usr\/share\/wallpapers\/([^/]+)\/contents\/images\/(\d+)x(\d+)\.(jpg|png)$/,
    pick: (files) => {
      const largest = new Map();
      for (const file of files) {
        const [, name, width, height] = file.match(SOURCES[0].match);
        const area = Number(width) * Number(height);
        if (!largest.has(name) || largest.get(name).area < area) largest.set(name, { file, area });
      }
      return [...largest.values()].map((entry) => entry.file);
    },
  },
  // screenshots of the desktop and of dialogs, colour diagrams (PNG)
  { package: 'gnome-user-docs', match: /^\.\/usr\/share\/help\/C\/gnome-help\/figures\/[^/]+\.png$/, pick: (files) => files },
  {
    // game screens, panels and an animated GIF
    package: 'frozen-bubble-data',
    match: /^\.\/usr\/share\/games\/frozen-bubble\/gfx\/(back_[a-z_]+|backgrnd|level_editor|key_shortcuts|lose_panel|win_panel_1player|hurry_p1|hover|file_list_background)\.(png|gif)$/,
    pick: (files) => files,
  },
  {
    // icons (apps, places, devices at 32×32): every fourth, sorted
    package: 'tango-icon-theme',
    match: /^\.\/usr\/share\/icons\/Tango\/32x32\/(apps|places|devices)\/[^/]+\.png$/,
    pick: (files) => files.filter((_, i) => i % 4 === 0),
  },
  // a photo of a person, a product picture and a logo (matplotlib's sample data)
  {
    package: 'python-matplotlib-data',
    match: /^\.\/usr\/share\/matplotlib\/mpl-data\/sample_data\/(grace_hopper\.jpg|Minduka_Present_Blue_Pack\.png|logo2\.png)$/,
    pick: (files) => files,
  },
];

function run(command, args, options = {}) {
  return execFileSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
}

async function debFile(pkg) {
  await fs.mkdir(DEBS, { recursive: true });
  const find = async () => (await fs.readdir(DEBS)).find((name) => name.startsWith(`${pkg}_`) && name.endsWith('.deb'));
  let name = await find();
  if (!name) {
    process.stderr.write(`downloading ${pkg} (apt-get download)…\n`);
    try {
      run('apt-get', ['download', pkg], { cwd: DEBS, stdio: ['ignore', 'ignore', 'inherit'] });
    } catch (err) {
      throw new Error(`could not download the Debian package ${pkg} (${err.message.split('\n')[0]}).\n` +
        `  Run by hand: (cd ${DEBS} && apt-get download ${SOURCES.map((s) => s.package).join(' ')}), after apt-get update if needed.`);
    }
    name = await find();
    if (!name) throw new Error(`apt-get download ${pkg} wrote no .deb into ${DEBS}`);
  }
  return path.join(DEBS, name);
}

async function gather() {
  const entries = [];
  const unpacked = path.join(ROOT, 'unpacked');
  await fs.rm(unpacked, { recursive: true, force: true });
  await fs.mkdir(IMAGES, { recursive: true });
  for (const source of SOURCES) {
    const deb = await debFile(source.package);
    const version = run('dpkg-deb', ['-f', deb, 'Version']).trim();
    // regular files only (symbolic links, e.g. Tango's aliases, are left out): `tar -tv` lines start with '-'
    const listed = run('sh', ['-c', 'dpkg-deb --fsys-tarfile "$1" | tar -tv', 'sh', deb]).split('\n')
      .filter((line) => line.startsWith('-')).map((line) => line.split(/\s+/).slice(5).join(' '))
      .filter((member) => source.match.test(member)).sort();
    const picked = source.pick(listed);
    if (picked.length === 0) throw new Error(`no file of ${source.package} ${version} matched ${source.match}`);
    await fs.mkdir(unpacked, { recursive: true });
    run('sh', ['-c', 'deb="$1"; dir="$2"; shift 2; dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir" "$@"', 'sh', deb, unpacked, ...picked]);
    for (const member of picked) {
      const parts = member.split('/');
      // name: package + the distinguishing part of the path (wallpaper name, icon folder), file name kept
      const context = source.package === 'plasma-workspace-wallpapers' ? parts.at(-4) : source.package === 'tango-icon-theme' ? parts.at(-2) : '';
      const name = [source.package, context, parts.at(-1)].filter(Boolean).join('__');
      await fs.copyFile(path.join(unpacked, member), path.join(IMAGES, name));
      entries.push({ file: name, package: source.package, version, path: member.slice(1) });
    }
    await fs.rm(unpacked, { recursive: true, force: true });
  }
  await fs.writeFile(MANIFEST, `${JSON.stringify({ gatheredAt: new Date().toISOString(), images: entries }, null, 2)}\n`);
  return entries;
}

/** The gathered images (gathering them first when the manifest is missing): { dir, images: [{file, package, version, path}] }. */
export async function openSetImages() {
  let images;
  if (existsSync(MANIFEST)) images = JSON.parse(await fs.readFile(MANIFEST, 'utf8')).images;
  if (!images || !images.every((entry) => existsSync(path.join(IMAGES, entry.file)))) images = await gather();
  return { dir: IMAGES, images };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  openSetImages().then(({ dir, images }) => {
    const byPackage = new Map();
    for (const entry of images) byPackage.set(`${entry.package} ${entry.version}`, (byPackage.get(`${entry.package} ${entry.version}`) ?? 0) + 1);
    if (process.argv.includes('--list')) for (const entry of images) process.stdout.write(`${entry.file}\t${entry.package}\t${entry.path}\n`);
    process.stdout.write(`${images.length} open-set images in ${dir}\n`);
    for (const [name, count] of byPackage) process.stdout.write(`  ${count}\t${name}\n`);
  }, (err) => {
    process.stderr.write(`✖ ${err.message}\n`);
    process.exitCode = 1;
  });
}
