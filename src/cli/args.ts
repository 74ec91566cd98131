import { parseArgs, type ParseArgsConfig } from 'node:util';
import { usageError } from '../errors.js';

/** Runs a node:util parseArgs call and turns its errors into USAGE errors pointing at the command's help. */
export function parseStrict<T>(command: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw usageError(err instanceof Error ? err.message : String(err), `See "imgcls ${command} --help".`);
  }
}

type ParseArgsOptions = NonNullable<ParseArgsConfig['options']>;

/** Levenshtein distance, for "did you mean". */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length];
}

/** The known option closest to `given` (--epoch → --epochs), when one is close enough to be a typo. */
export function closestOption(given: string, options: ParseArgsOptions): string | undefined {
  const name = given.replace(/^-+/, '').split('=')[0];
  let best: { option: string; distance: number } | undefined;
  for (const option of Object.keys(options)) {
    const distance = option.startsWith(name) || name.startsWith(option) ? Math.min(1, editDistance(name, option)) : editDistance(name, option);
    if (!best || distance < best.distance) best = { option, distance };
  }
  return best && best.distance <= Math.max(1, Math.floor(name.length / 3)) ? `--${best.option}` : undefined;
}

/** `--epochs -1` → `--epochs=-1` for string options, so a negative number reaches toNumber's range check instead of being read as an option. */
function joinNegativeNumbers(args: readonly string[], options: ParseArgsOptions): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const option = arg.startsWith('--') && !arg.includes('=') ? options[arg.slice(2)] : undefined;
    if (option?.type === 'string' && i + 1 < args.length && /^-(\d|\.\d)/.test(args[i + 1])) {
      out.push(`${arg}=${args[i + 1]}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/**
 * node:util parseArgs with the command line's messages: negative numbers are values, an unknown option
 * names the closest known one, every error points at the command's --help (USAGE, exit code 2).
 */
export function parseOptions<T extends ParseArgsConfig>(command: string, config: T): ReturnType<typeof parseArgs<T>> {
  const options: ParseArgsOptions = config.options ?? {};
  const help = `See "imgcls ${command} --help".`;
  try {
    return parseArgs({ ...config, args: joinNegativeNumbers(config.args ?? [], options) }) as ReturnType<typeof parseArgs<T>>;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const code = (err as { code?: string }).code;
    const unknown = /Unknown option '([^']+)'/.exec(message)?.[1];
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown) {
      const suggestion = closestOption(unknown, options);
      throw usageError(`unknown option ${unknown} for imgcls ${command}`, `${suggestion ? `Did you mean ${suggestion}? ` : ''}${help}`);
    }
    const valueOf = /Option '(?:-\w, )?(--[\w-]+)/.exec(message)?.[1];
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && valueOf) {
      const type = options[valueOf.slice(2)]?.type;
      throw usageError(type === 'boolean' ? `${valueOf} takes no value` : `${valueOf} needs a value`, type === 'boolean' ? help : `For example ${valueOf}=<value>. ${help}`);
    }
    throw usageError(message, help);
  }
}

/** What a number option accepts: whole numbers only, a closed range, and the command whose help the error points at. */
export interface NumberRule {
  integer?: boolean;
  min?: number;
  max?: number;
  command?: string;
}

/**
 * The numeric value of option --name, undefined when absent; a USAGE error when it is not a number,
 * not whole (`integer`, or `true` as the third argument) or outside [min, max].
 */
export function toNumber(name: string, value: string | undefined, rule: boolean | NumberRule = {}): number | undefined {
  if (value === undefined) return undefined;
  const { integer = false, min, max, command }: NumberRule = typeof rule === 'boolean' ? { integer: rule } : rule;
  const number = Number(value);
  const ok = value.trim() !== '' && Number.isFinite(number) && (!integer || Number.isInteger(number))
    && (min === undefined || number >= min) && (max === undefined || number <= max);
  if (!ok) {
    const kind = integer && min === 1 && max === undefined ? 'a positive integer' : integer ? 'an integer' : 'a number';
    const range = kind !== 'a positive integer' && (min !== undefined || max !== undefined) ? ` in [${min ?? '-∞'}, ${max ?? '∞'}]` : '';
    throw usageError(`--${name} must be ${kind}${range}. Received: ${value}`, command ? `See "imgcls ${command} --help".` : undefined);
  }
  return number;
}
