export type Period = 'month';

/** The first instant (UTC) of the budget period that contains `at`. */
export function periodStart(_period: Period, at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
}

/** `YYYY-MM` → [start, end) in UTC; throws on anything else. */
export function monthRange(month: string): { from: Date; to: Date } {
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(month);
  if (!m) throw new Error(`period must be YYYY-MM, got "${month}"`);
  const y = Number(m[1]);
  const mo = Number(m[2]) - 1;
  return { from: new Date(Date.UTC(y, mo, 1)), to: new Date(Date.UTC(y, mo + 1, 1)) };
}

const DAY_MS = 86_400_000;

/**
 * The first instant (UTC) of a budget's period containing `at`, as Postgres' date_trunc gives it in the
 * reservation statement (a week starts on Monday; a quarter in January, April, July or October).
 */
export function periodStartOf(period: 'day' | 'week' | 'month' | 'quarter', at: Date): Date {
  const y = at.getUTCFullYear();
  const m = at.getUTCMonth();
  const day = Date.UTC(y, m, at.getUTCDate());
  switch (period) {
    case 'day': return new Date(day);
    case 'week': return new Date(day - ((at.getUTCDay() + 6) % 7) * DAY_MS);
    case 'month': return new Date(Date.UTC(y, m, 1));
    case 'quarter': return new Date(Date.UTC(y, m - (m % 3), 1));
  }
}
