/**
 * Prices arrive as number text (LiteLLM's map: USD per token, as Python prints floats: 3e-06, 1.5e-07,
 * 0.000015). They are converted to USD per million tokens on the text itself, never through a binary float:
 * 3e-06 becomes exactly 3, 1.875e-05 exactly 18.75. The price book stores numeric(20, 8): a price that needs
 * more decimals than that, or more integer digits, is refused rather than rounded.
 */

const NUMBER_TEXT = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;
const STORED_DECIMALS = 8;
const STORED_INTEGER_DIGITS = 12;

export class PriceTextError extends Error {}

/** `text` × 10^shift, as a canonical decimal string (no exponent, no trailing zeros, no sign on zero). */
export function shiftDecimal(text: string, shift: number): string {
  const m = NUMBER_TEXT.exec(text.trim());
  if (!m) throw new PriceTextError(`not a number: ${JSON.stringify(text)}`);
  const [, sign = '', whole = '', frac = '', exp = '0'] = m;
  const digits = (whole + frac).replace(/^0+(?=\d)/, '');
  // value = digits × 10^(point), point counted from the right end of digits
  const point = Number(exp) + shift - frac.length;
  let intPart: string;
  let fracPart: string;
  if (point >= 0) {
    intPart = digits + '0'.repeat(point);
    fracPart = '';
  } else {
    const padded = digits.padStart(-point + 1, '0');
    intPart = padded.slice(0, point);
    fracPart = padded.slice(point);
  }
  intPart = intPart.replace(/^0+(?=\d)/, '');
  fracPart = fracPart.replace(/0+$/, '');
  const body = fracPart ? `${intPart}.${fracPart}` : intPart;
  return body === '0' ? '0' : `${sign}${body}`;
}

/** USD per token (as text) → USD per million tokens, exactly, checked to fit the price book. */
export function perTokenToPerMillion(text: string): string {
  return storable(shiftDecimal(text, 6));
}

/** A price per million tokens as given (tollgate's own files), canonical and checked to fit the price book. */
export function perMillion(text: string): string {
  return storable(shiftDecimal(text, 0));
}

function storable(value: string): string {
  if (value.startsWith('-')) throw new PriceTextError(`a price cannot be negative: ${value}`);
  const [whole = '', frac = ''] = value.split('.');
  if (frac.length > STORED_DECIMALS) throw new PriceTextError(`${value} per million tokens has more than ${STORED_DECIMALS} decimals`);
  if (whole.length > STORED_INTEGER_DIGITS) throw new PriceTextError(`${value} per million tokens is too large`);
  return value;
}
