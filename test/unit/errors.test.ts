import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS, TollgateError, isErrorCode } from '../../src/errors.js';

const readme = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** Rows of README's error table: | `code` | status | meaning | */
function documentedCodes(): Map<string, number> {
  const rows = [...readme.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \| .+\|$/gm)];
  return new Map(rows.map((m) => [m[1]!, Number(m[2])]));
}

describe('error catalogue', () => {
  it('documents every code in README with its status, and nothing else', () => {
    const documented = documentedCodes();
    const catalogued = new Map(Object.entries(ERRORS).map(([code, def]) => [code, def.status]));
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(catalogued));
  });

  it('gives every code one client or server error status and a message', () => {
    for (const [code, def] of Object.entries(ERRORS)) {
      expect(def.status, code).toBeGreaterThanOrEqual(400);
      expect(def.status, code).toBeLessThan(600);
      expect(def.message.length, code).toBeGreaterThan(10);
    }
  });

  it('builds errors from the catalogue', () => {
    const err = new TollgateError('budget_exhausted');
    expect(err.status).toBe(429);
    expect(err.message).toBe(ERRORS.budget_exhausted.message);
    expect(new TollgateError('missing_tag', 'missing tag: bu').message).toBe('missing tag: bu');
    expect(isErrorCode('budget_exhausted')).toBe(true);
    expect(isErrorCode('toString')).toBe(false);
  });
});
