/** Number formatting shared by the page's sections (amounts arrive as exact decimal strings). */

const moneyFormats = new Map<string, Intl.NumberFormat>();

export function money(amount: string | number | null | undefined, currency = 'USD'): string {
  if (amount === null || amount === undefined) return '—';
  let f = moneyFormats.get(currency);
  if (!f) {
    f = new Intl.NumberFormat('en-US', { style: 'currency', currency, maximumFractionDigits: 2, minimumFractionDigits: 2 });
    moneyFormats.set(currency, f);
  }
  return f.format(Number(amount));
}

export function count(n: string | number | null | undefined): string {
  return n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US');
}

export function percent(ratio: string | number | null | undefined, digits = 0): string {
  return ratio === null || ratio === undefined ? '—' : `${(Number(ratio) * 100).toFixed(digits)}%`;
}

export function fixed(n: number | null | undefined, digits = 2): string {
  return n === null || n === undefined || !Number.isFinite(n) ? '—' : n.toFixed(digits);
}

/** p-values go small fast: three decimals, then "< 0.001". */
export function pValue(p: number | null | undefined): string {
  if (p === null || p === undefined) return '—';
  return p < 0.001 ? '< 0.001' : p.toFixed(3);
}

export function dateTime(iso: string): string {
  return new Date(iso).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }) + ' UTC';
}

/** "OPEN" → "Open", "SOFT_CAP" → "Soft cap". */
export function label(enumValue: string): string {
  const words = enumValue.toLowerCase().replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The current UTC month, YYYY-MM. */
export function currentMonth(now = new Date()): string {
  return now.toISOString().slice(0, 7);
}

export const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;
