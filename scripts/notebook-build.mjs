#!/usr/bin/env node
// Builds the lesson notebooks (English and Simplified Chinese) from their one source,
// notebooks/image-classification.lesson.md (its header explains the format). Used by
// `npm run notebook:build` and by test/notebook/build.test.ts, which checks that the committed
// notebooks are exactly what this script writes.
//
// Usage: node scripts/notebook-build.mjs [--check]
//   --check  write nothing; exit 1 when a committed notebook differs from the build output
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** The repository this script belongs to. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The one source of both lesson notebooks. */
export const LESSON_SOURCE = path.join(REPO_ROOT, 'notebooks', 'image-classification.lesson.md');

/** The languages of the lesson, each with the notebook the build writes. */
export const LESSON_LANGUAGES = Object.freeze({
  en: path.join(REPO_ROOT, 'notebooks', 'image-classification.ipynb'),
  'zh-CN': path.join(REPO_ROOT, 'notebooks', 'image-classification.zh-CN.ipynb'),
});

/** A text span in a code cell with one wording per language: «English ‖ 中文». */
const SPAN = /«([^«»‖]*)‖([^«»‖]*)»/g;

const KERNEL_METADATA = {
  kernelspec: { display_name: 'TypeScript', language: 'typescript', name: 'tslab' },
  language_info: {
    codemirror_mode: { mode: 'typescript', name: 'javascript', typescript: true },
    file_extension: '.ts',
    mimetype: 'text/typescript',
    name: 'typescript',
    version: '5.0.4',
  },
};

/** An error naming the source line, so a mistake in the source is found at once. */
function sourceError(line, message) {
  return new Error(`${path.relative(process.cwd(), LESSON_SOURCE)}:${line}: ${message}`);
}

/**
 * Parses the lesson source into cells: { type: 'markdown', id, text: { en, 'zh-CN' } } or
 * { type: 'code', id, tags, code } (code still holding its «en ‖ zh-CN» spans).
 */
export function parseLessonSource(text) {
  const lines = text.split('\n');
  const cells = [];
  let cell;
  let part; // which text of the current cell the lines go to: 'en', 'zh-CN' or 'code'
  let startLine = 0;
  const finish = () => {
    if (!cell) return;
    const trim = (s) => s.replace(/^\n+|\n+$/g, '');
    if (cell.type === 'markdown') {
      for (const lang of Object.keys(LESSON_LANGUAGES)) {
        if (!cell.text[lang] || trim(cell.text[lang]) === '') throw sourceError(startLine, `markdown cell "${cell.id}" has no ${lang} text`);
        cell.text[lang] = trim(cell.text[lang]);
      }
    } else {
      cell.code = trim(cell.code);
      if (cell.code === '') throw sourceError(startLine, `code cell "${cell.id}" is empty`);
    }
    cells.push(cell);
  };
  lines.forEach((line, index) => {
    const lineNumber = index + 1;
    const directive = /^%% (markdown|code|en|zh-CN)(?:\s+(.*))?$/.exec(line);
    if (directive) {
      const [, kind, rest = ''] = directive;
      if (kind === 'markdown' || kind === 'code') {
        finish();
        const id = /\bid=([\w-]+)/.exec(rest)?.[1];
        if (!id) throw sourceError(lineNumber, `${kind} cell without id=…`);
        if (cells.some((c) => c.id === id)) throw sourceError(lineNumber, `duplicate cell id "${id}"`);
        const tags = /\btags=([\w,-]+)/.exec(rest)?.[1]?.split(',') ?? [];
        cell = kind === 'markdown' ? { type: 'markdown', id, text: {} } : { type: 'code', id, tags, code: '' };
        part = kind === 'code' ? 'code' : undefined;
        startLine = lineNumber;
        return;
      }
      if (cell?.type !== 'markdown') throw sourceError(lineNumber, `%% ${kind} outside a markdown cell`);
      if (cell.text[kind] !== undefined) throw sourceError(lineNumber, `second %% ${kind} in cell "${cell.id}"`);
      part = kind;
      cell.text[kind] = '';
      return;
    }
    if (line.startsWith('%%')) throw sourceError(lineNumber, `unknown directive "${line}"`);
    if (!cell) return; // the header
    if (part === undefined) {
      if (line.trim() !== '') throw sourceError(lineNumber, `text before %% en in markdown cell "${cell.id}"`);
      return;
    }
    if (part === 'code') cell.code += `${line}\n`;
    else cell.text[part] += `${line}\n`;
  });
  finish();
  return cells;
}

/** A code cell's source in one language: every «en ‖ zh-CN» span replaced by that language's text. */
export function localizeCode(code, lang) {
  const side = lang === 'en' ? 1 : 2;
  return code.replace(SPAN, (...groups) => groups[side].trim());
}

/** Code with every localized span masked: equal for both languages of a cell by construction. */
export function codeSkeleton(code) {
  return code.replace(SPAN, '«…»');
}

/** A cell's source as nbformat stores it: a list of lines, each but the last ending in "\n". */
function sourceLines(text) {
  return text.split('\n').map((line, i, all) => (i < all.length - 1 ? `${line}\n` : line));
}

/** The notebook (nbformat 4.5 JSON) of the lesson in one language. */
export function buildNotebook(cells, lang) {
  if (!Object.hasOwn(LESSON_LANGUAGES, lang)) throw new Error(`unknown language ${lang}; known: ${Object.keys(LESSON_LANGUAGES).join(', ')}`);
  return {
    cells: cells.map((cell) => cell.type === 'markdown'
      ? { cell_type: 'markdown', id: cell.id, metadata: {}, source: sourceLines(cell.text[lang]) }
      : {
        cell_type: 'code',
        execution_count: null,
        id: cell.id,
        metadata: cell.tags.length > 0 ? { tags: cell.tags } : {},
        outputs: [],
        source: sourceLines(localizeCode(cell.code, lang)),
      }),
    metadata: { ...KERNEL_METADATA, language: lang },
    nbformat: 4,
    nbformat_minor: 5,
  };
}

/** A notebook as the build writes it to disk. */
export function serializeNotebook(notebook) {
  return `${JSON.stringify(notebook, null, 1)}\n`;
}

/** Every language's notebook text built from the source text: { lang: { file, text } }. */
export function buildLessons(sourceText) {
  const cells = parseLessonSource(sourceText);
  return Object.fromEntries(Object.entries(LESSON_LANGUAGES).map(([lang, file]) => [lang, { file, text: serializeNotebook(buildNotebook(cells, lang)) }]));
}

/** The committed notebooks that differ from the build output (empty when all are up to date). */
export async function staleNotebooks(sourceText) {
  const built = buildLessons(sourceText ?? (await fs.readFile(LESSON_SOURCE, 'utf8')));
  const stale = [];
  for (const { file, text } of Object.values(built)) {
    const committed = await fs.readFile(file, 'utf8').catch(() => undefined);
    if (committed !== text) stale.push(path.relative(REPO_ROOT, file));
  }
  return stale;
}

async function main(argv) {
  const { values } = parseArgs({ args: argv, strict: true, options: { check: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log('Usage: node scripts/notebook-build.mjs [--check]');
    return 0;
  }
  const source = await fs.readFile(LESSON_SOURCE, 'utf8');
  if (values.check) {
    const stale = await staleNotebooks(source);
    if (stale.length > 0) {
      console.error(`✖ not what ${path.relative(REPO_ROOT, LESSON_SOURCE)} builds: ${stale.join(', ')}. Run npm run notebook:build.`);
      return 1;
    }
    console.log('the lesson notebooks are up to date');
    return 0;
  }
  for (const { file, text } of Object.values(buildLessons(source))) {
    const tmp = `${file}.${process.pid}.tmp`;
    await fs.writeFile(tmp, text);
    await fs.rename(tmp, file);
    console.log(`wrote ${path.relative(process.cwd(), file)}`);
  }
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err) => { console.error(`✖ ${err instanceof Error ? err.message : err}`); process.exitCode = 1; },
  );
}
