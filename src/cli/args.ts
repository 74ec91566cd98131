import { usageError } from '../errors.js';

/** Runs a node:util parseArgs call and turns its errors into USAGE errors pointing at the command's help. */
export function parseStrict<T>(command: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw usageError(err instanceof Error ? err.message : String(err), `See "imgcls ${command} --help".`);
  }
}

/** The numeric value of option --name, undefined when absent; a USAGE error when not a (whole) number. */
export function toNumber(name: string, value: string | undefined, integer = false): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number) || (integer && !Number.isInteger(number))) {
    throw usageError(`--${name} must be ${integer ? 'an integer' : 'a number'}. Received: ${value}`);
  }
  return number;
}
