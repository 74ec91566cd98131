import { usageError } from '../errors.js';

/** Runs a node:util parseArgs call and turns its errors into USAGE errors pointing at the command's help. */
export function parseStrict<T>(command: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw usageError(err instanceof Error ? err.message : String(err), `See "imgcls ${command} --help".`);
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
