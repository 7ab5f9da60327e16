import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

describe('config', () => {
  it('defaults to PGlite in .tollgate with the committed bundle', () => {
    const c = loadConfig({}, {});
    expect(c.port).toBe(8787);
    expect(c.database).toEqual({ kind: 'pglite', dataDir: path.resolve('.tollgate/pgdata') });
    expect(c.policy.bundlePath).toBe(path.resolve(import.meta.dirname, '../../policies/bundle.tar.gz'));
    expect(Object.isFrozen(c) && Object.isFrozen(c.providers.openai)).toBe(true);
    expect(c.reservationPool).toBe(4);
  });

  it('switches to Postgres with DATABASE_URL', () => {
    expect(loadConfig({}, { DATABASE_URL: 'postgres://u@h/db' }).database).toEqual({ kind: 'postgres', url: 'postgres://u@h/db' });
  });

  it('names the setting that is wrong', () => {
    expect(() => loadConfig({}, { PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({}, { TOLLGATE_OPENAI_BASE_URL: 'ftp://x' })).toThrow(/TOLLGATE_OPENAI_BASE_URL/);
    expect(() => loadConfig({}, { TOLLGATE_SEED: 'sometimes' })).toThrow(/TOLLGATE_SEED/);
    expect(() => loadConfig({}, { TOLLGATE_RESERVATION_POOL: '0' })).toThrow(/TOLLGATE_RESERVATION_POOL/);
  });

  it('refuses a JWKS without issuer and audience', () => {
    expect(() => loadConfig({}, { TOLLGATE_JWKS_URL: 'http://127.0.0.1:1/jwks' })).toThrow(/TOLLGATE_JWT_ISSUER and TOLLGATE_JWT_AUDIENCE/);
    const ok = loadConfig({}, { TOLLGATE_JWKS_URL: 'http://127.0.0.1:1/jwks', TOLLGATE_JWT_ISSUER: 'broker', TOLLGATE_JWT_AUDIENCE: 'tollgate' });
    expect(ok.jwt).toMatchObject({ issuer: 'broker', audience: 'tollgate', agentClaim: 'tollgate_agent_id' });
  });
});
