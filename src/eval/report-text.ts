import { usageError } from '../errors.js';
import type { ClassificationMetrics } from './metrics.js';

/** Options of formatClassificationReport. */
export interface ReportTextOptions {
  /** Digits after the decimal point. Default 2 (scikit-learn's default). */
  digits?: number;
}

const HEADERS = ['precision', 'recall', 'f1-score', 'support'];
const LONGEST_LAST_LINE_HEADING = 'weighted avg';

/**
 * The text of scikit-learn's `classification_report`, character for character: a header, one row
 * per class, then the accuracy, macro avg and weighted avg rows (numbers rounded half to even, as
 * Python's format does).
 */
export function formatClassificationReport(metrics: ClassificationMetrics, options: ReportTextOptions = {}): string {
  const digits = options.digits ?? 2;
  if (!(Number.isInteger(digits) && digits >= 0 && digits <= 20)) {
    throw usageError(`digits must be an integer in [0, 20]. Received: ${digits}`);
  }
  const nameWidth = Math.max(0, ...metrics.perClass.map((row) => row.className.length));
  const width = Math.max(nameWidth, LONGEST_LAST_LINE_HEADING.length, digits);
  const cell = (text: string): string => ` ${text.padStart(9)}`;
  const number = (value: number): string => cell(formatFixed(value, digits));
  const row = (heading: string, precision: number, recall: number, f1: number, support: number): string =>
    `${heading.padStart(width)} ${number(precision)}${number(recall)}${number(f1)}${cell(String(support))}\n`;

  let report = `${''.padStart(width)} ${HEADERS.map(cell).join('')}\n\n`;
  for (const c of metrics.perClass) report += row(c.className, c.precision, c.recall, c.f1, c.support);
  report += '\n';
  report += `${'accuracy'.padStart(width)} ${cell('')}${cell('')}${number(metrics.accuracy)}${cell(String(metrics.support))}\n`;
  const { macroAvg, weightedAvg } = metrics;
  report += row('macro avg', macroAvg.precision, macroAvg.recall, macroAvg.f1, macroAvg.support);
  report += row('weighted avg', weightedAvg.precision, weightedAvg.recall, weightedAvg.f1, weightedAvg.support);
  return report;
}

/**
 * `value` with `digits` decimals, rounded like Python's `format(value, '.Nf')`: from the exact
 * binary value, with exact ties to even (JavaScript's toFixed rounds ties up: 0.125 → "0.13", Python "0.12").
 */
export function formatFixed(value: number, digits: number): string {
  if (!Number.isFinite(value) || Math.abs(value) >= 1e21) return value.toFixed(digits);
  // toFixed(100) is the exact decimal expansion of the double for |value| < 1e21 (ECMA-262 Number.prototype.toFixed).
  const exact = Math.abs(value).toFixed(100);
  const [whole, fraction] = exact.split('.');
  const kept = whole + fraction.slice(0, digits);
  const rest = fraction.slice(digits);
  let roundUp = false;
  if (rest[0] > '5') roundUp = true;
  else if (rest[0] === '5') {
    const beyondHalf = /[1-9]/.test(rest.slice(1));
    roundUp = beyondHalf || Number(kept[kept.length - 1]) % 2 === 1;
  }
  let digitsText = roundUp ? (BigInt(kept) + 1n).toString() : BigInt(kept).toString();
  digitsText = digitsText.padStart(digits + 1, '0');
  const integerPart = digitsText.slice(0, digitsText.length - digits);
  const fractionPart = digitsText.slice(digitsText.length - digits);
  const text = digits > 0 ? `${integerPart}.${fractionPart}` : integerPart;
  // Python keeps the sign of negative numbers that round to zero ('-0.00').
  return value < 0 || Object.is(value, -0) ? `-${text}` : text;
}
