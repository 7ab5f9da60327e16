import { describe, expect, it } from 'vitest';
import { ACCESS_RULES, authorize, checkChargeback, scopeFor, type Caller } from '../../../src/graphql/access.js';
import { API_ROLES } from '../../../src/db/api-tokens.js';

const caller = (role: Caller['role'], buId: string | null = null): Caller => ({ tokenId: 't', role, buId });
const codeOf = (fn: () => unknown) => {
  try {
    fn();
    return null;
  } catch (err) {
    return (err as { extensions?: { code?: string } }).extensions?.code;
  }
};

describe('access rules', () => {
  it('has one rule per role', () => {
    expect(Object.keys(ACCESS_RULES).sort()).toEqual([...API_ROLES].sort());
  });

  it('refuses a missing caller with UNAUTHENTICATED', () => {
    expect(codeOf(() => authorize(null, 'chargeback'))).toBe('UNAUTHENTICATED');
  });

  it.each([
    ['finance', 'decisions', null], ['admin', 'agents', null], ['bu-owner', 'decisions', null],
    ['council', 'chargeback', null], ['council', 'decisions', 'FORBIDDEN'], ['council', 'agents', 'FORBIDDEN'],
    ['council', 'outcomes:write', 'FORBIDDEN'], ['bu-owner', 'outcomes:write', null], ['admin', 'metrics', null],
    ['finance', 'metrics', 'FORBIDDEN'], ['metrics', 'metrics', null], ['metrics', 'catalog', 'FORBIDDEN'], ['metrics', 'chargeback', 'FORBIDDEN'],
  ] as const)('%s → %s: %s', (role, cap, expected) => {
    expect(codeOf(() => authorize(caller(role, role === 'bu-owner' ? 'm' : null), cap))).toBe(expected);
  });

  it('limits a BU owner to its BU and refuses another one', () => {
    const owner = caller('bu-owner', 'marketing');
    expect(scopeFor(owner)).toEqual({ buId: 'marketing' });
    expect(scopeFor(owner, 'marketing')).toEqual({ buId: 'marketing' });
    expect(codeOf(() => scopeFor(owner, 'insurance'))).toBe('FORBIDDEN');
    expect(scopeFor(caller('finance'))).toEqual({ buId: undefined });
    expect(scopeFor(caller('finance'), 'insurance')).toEqual({ buId: 'insurance' });
  });

  it('keeps the council to BU, use case and time', () => {
    const c = caller('council');
    expect(codeOf(() => checkChargeback(c, ['BU', 'USE_CASE', 'DAY', 'MONTH'], { bu: 'x', useCase: 'y' }))).toBeNull();
    for (const d of ['AGENT', 'MODEL', 'PROVIDER'] as const) expect(codeOf(() => checkChargeback(c, [d], {}))).toBe('FORBIDDEN');
    for (const f of ['agent', 'model', 'provider'] as const) expect(codeOf(() => checkChargeback(c, ['BU'], { [f]: 'x' }))).toBe('FORBIDDEN');
    expect(codeOf(() => checkChargeback(c, ['BU'], { agent: null }))).toBeNull();
    expect(codeOf(() => checkChargeback(caller('finance'), ['AGENT', 'MODEL'], { agent: 'a' }))).toBeNull();
  });
});
