import { readFileSync } from 'node:fs';
// ajv comes with fastify and env-schema; the schemas are draft 2020-12.
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, fixtureInput, fixtures, openFixtureEngines, type FixtureEngines } from './support.js';

const load = (name: string) => JSON.parse(readFileSync(`${ROOT}schema/${name}`, 'utf8')) as object;
const ajv = new Ajv2020({ strict: true, allErrors: true, validateFormats: false });
const validInput = ajv.compile(load('policy-input.schema.json'));
const validDecision = ajv.compile(load('decision.schema.json'));

describe('schema/policy-input.schema.json and schema/decision.schema.json', () => {
  let engines: FixtureEngines;
  beforeAll(async () => {
    engines = await openFixtureEngines();
  });
  afterAll(() => engines.close());

  it.each(fixtures.cases.map((c) => [c.name, c] as const))('%s: input and decision match the schemas', (_name, c) => {
    const input = fixtureInput(c);
    expect(validInput(input), ajv.errorsText(validInput.errors)).toBe(!c.malformed);
    const { decision } = engines.evaluate(c);
    expect(validDecision(decision), ajv.errorsText(validDecision.errors)).toBe(true);
  });

  it('rejects a decision with a tier the contract does not know', () => {
    const { decision } = engines.evaluate(fixtures.cases[0]!);
    expect(validDecision({ ...decision, tier: 'amber' })).toBe(false);
    expect(validDecision({ ...decision, budgets: [{ id: 1, scope: 'team', tier: 'ok', ratio: 0.1 }] })).toBe(false);
    expect(validDecision({ ...decision, max_output_tokens: 0 })).toBe(false);
  });
});
