import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicyEngine } from '../../../src/policy/engine.js';
import { BUNDLE, fixtures, openFixtureEngines, type FixtureEngines } from './support.js';

// The same cases decision_test.rego runs with opa test, here against the compiled WASM that ships.
describe('shared policy fixtures against policies/bundle.tar.gz', () => {
  let engines: FixtureEngines;
  beforeAll(async () => {
    engines = await openFixtureEngines();
  });
  afterAll(() => engines.close());

  it('loads the committed bundle', async () => {
    const engine = await PolicyEngine.fromFile(BUNDLE);
    expect(engine.ready).toBe(true);
    expect(engine.revision).toMatch(/^[0-9a-f]{12}$/);
    await engine.close();
  });

  it('has fixtures to run', () => {
    expect(fixtures.cases.length).toBeGreaterThan(60);
  });

  it.each(fixtures.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const { decision } = engines.evaluate(c);
    const observed: Record<string, unknown> = { ...decision, reason_codes: decision.reasons.map((r) => r.code) };
    for (const [field, want] of Object.entries(c.expect)) {
      expect(observed[field], field).toEqual(want);
    }
  });
});
