import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS, isErrorCode } from '../../../src/errors.js';
import { POLICY_DIR, fixtures } from './support.js';

const sources = readdirSync(POLICY_DIR)
  .filter((name) => name.endsWith('.rego') && !name.endsWith('_test.rego'))
  .map((name) => readFileSync(`${POLICY_DIR}/${name}`, 'utf8'));

/** Every code a violation is built with: _violation("code", ...). */
const emitted = new Set(sources.flatMap((src) => [...src.matchAll(/_violation\("([a-z_]+)"/g)].map((m) => m[1]!)));

/** decision.rego's precedence table: ["code", status] rows. */
const catalogue = new Map(
  sources.flatMap((src) => [...src.matchAll(/^\s*\["([a-z_]+)", (\d{3})\],?$/gm)].map((m) => [m[1]!, Number(m[2])] as const)),
);

describe('policy codes match src/errors.ts', () => {
  it('finds the codes the policy emits and its status table', () => {
    expect(emitted.size).toBeGreaterThanOrEqual(19);
    expect(catalogue.size).toBe(emitted.size);
  });

  it.each([...catalogue])('%s has status %i in src/errors.ts', (code, status) => {
    expect(isErrorCode(code)).toBe(true);
    expect(ERRORS[code as keyof typeof ERRORS].status).toBe(status);
  });

  it('ranks and gives a status to every code the policy emits, and only those', () => {
    expect([...emitted].sort()).toEqual([...catalogue.keys()].sort());
  });

  it('expects only catalogued codes with their catalogued status in the fixtures', () => {
    for (const { name, expect: want } of fixtures.cases) {
      if (want.code === 'ok' || want.code === undefined) continue;
      const code = String(want.code);
      expect(isErrorCode(code), name).toBe(true);
      if (want.http_status !== undefined) expect(want.http_status, name).toBe(ERRORS[code as keyof typeof ERRORS].status);
    }
  });

  it('has a fixture for every code the policy emits', () => {
    const covered = new Set(fixtures.cases.map((c) => c.expect.code));
    expect([...emitted].filter((code) => !covered.has(code))).toEqual([]);
  });
});
