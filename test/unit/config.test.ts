import fs from 'node:fs';
import os from 'node:os';
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

  it('traces: off unless an OTLP endpoint is set; the traces endpoint wins; /v1/traces appended to the base one', () => {
    expect(loadConfig({}, {}).traces).toBeNull();
    expect(loadConfig({}, { OTEL_SERVICE_NAME: 'x', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).traces).toBeNull();
    expect(loadConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).traces)
      .toEqual({ url: 'http://collector:4318/v1/traces', protocol: 'http/protobuf', serviceName: 'tollgate' });
    expect(loadConfig({}, {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example/otlp',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json', OTEL_SERVICE_NAME: 'gateway-eu',
    }).traces).toEqual({ url: 'https://traces.example/otlp', protocol: 'http/json', serviceName: 'gateway-eu' });
    expect(loadConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }).traces).toBeNull();
    expect(() => loadConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL/);
    expect(() => loadConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
  });

  it('Vertex AI: the global host by default, a location\'s own otherwise; the key file from ADC\'s variable unless tollgate\'s is set', () => {
    expect(loadConfig({}, {}).providers.vertex).toEqual({ baseUrl: 'https://aiplatform.googleapis.com', location: 'global' });
    const regional = loadConfig({}, { TOLLGATE_VERTEX_PROJECT: 'billing-1', TOLLGATE_VERTEX_LOCATION: 'us-east5', GOOGLE_APPLICATION_CREDENTIALS: '/adc.json' }).providers.vertex;
    expect(regional).toEqual({ baseUrl: 'https://us-east5-aiplatform.googleapis.com', project: 'billing-1', location: 'us-east5', credentialsFile: '/adc.json' });
    expect(loadConfig({}, { TOLLGATE_VERTEX_LOCATION: 'eu' }).providers.vertex.baseUrl).toBe('https://aiplatform.eu.rep.googleapis.com');
    expect(loadConfig({}, { GOOGLE_APPLICATION_CREDENTIALS: '/adc.json', TOLLGATE_VERTEX_CREDENTIALS: '/tollgate.json' }).providers.vertex.credentialsFile).toBe('/tollgate.json');
    expect(() => loadConfig({}, { TOLLGATE_VERTEX_PROJECT: 'Not A Project' })).toThrow(/TOLLGATE_VERTEX_PROJECT/);
  });

  it('Azure on Entra: tenant, client id and secret together; the public authority by default; an authority CA file read at boot', () => {
    const app = { TOLLGATE_AZURE_TENANT_ID: 'contoso.onmicrosoft.com', TOLLGATE_AZURE_CLIENT_ID: 'c1', TOLLGATE_AZURE_CLIENT_SECRET: 's1' };
    expect(loadConfig({}, {}).providers.azure.entra).toBeUndefined();
    expect(loadConfig({}, app).providers.azure.entra)
      .toEqual({ tenantId: 'contoso.onmicrosoft.com', clientId: 'c1', clientSecret: 's1', authorityHost: 'https://login.microsoftonline.com' });
    expect(() => loadConfig({}, { ...app, TOLLGATE_AZURE_CLIENT_SECRET: undefined })).toThrow(/TOLLGATE_AZURE_CLIENT_SECRET/);
    expect(() => loadConfig({}, { TOLLGATE_AZURE_CLIENT_ID: 'c1' })).toThrow(/TOLLGATE_AZURE_TENANT_ID/);
    expect(() => loadConfig({}, { ...app, TOLLGATE_AZURE_AUTHORITY_HOST: 'http://login.local' })).toThrow(/TOLLGATE_AZURE_AUTHORITY_HOST/);
    expect(() => loadConfig({}, { ...app, TOLLGATE_AZURE_AUTHORITY_CA_FILE: '/no/such/ca.pem' })).toThrow(/TOLLGATE_AZURE_AUTHORITY_CA_FILE/);
    const ca = path.join(os.tmpdir(), `tollgate-ca-${process.pid}.pem`);
    fs.writeFileSync(ca, 'PEM');
    expect(loadConfig({}, { ...app, TOLLGATE_AZURE_AUTHORITY_CA_FILE: ca }).providers.azure.entra?.authorityCa).toBe('PEM');
    fs.rmSync(ca);
  });

  it('refuses a JWKS without issuer and audience', () => {
    expect(() => loadConfig({}, { TOLLGATE_JWKS_URL: 'http://127.0.0.1:1/jwks' })).toThrow(/TOLLGATE_JWT_ISSUER and TOLLGATE_JWT_AUDIENCE/);
    const ok = loadConfig({}, { TOLLGATE_JWKS_URL: 'http://127.0.0.1:1/jwks', TOLLGATE_JWT_ISSUER: 'broker', TOLLGATE_JWT_AUDIENCE: 'tollgate' });
    expect(ok.jwt).toMatchObject({ issuer: 'broker', audience: 'tollgate', agentClaim: 'tollgate_agent_id' });
  });

  it('reads the reconciliation settings: admin base URLs default to the upstream ones; a bad threshold is named', () => {
    const c = loadConfig({}, { OPENAI_ADMIN_KEY: 'sk-admin', TOLLGATE_ANTHROPIC_BASE_URL: 'http://127.0.0.1:9/a', TOLLGATE_OPENAI_REPORT_KEY_ID: 'key_1' });
    expect(c.reconcile).toEqual({
      providers: {
        openai: { baseUrl: 'https://api.openai.com', adminKey: 'sk-admin', tollgateKeyId: 'key_1' },
        anthropic: { baseUrl: 'http://127.0.0.1:9/a', adminKey: undefined, tollgateKeyId: undefined },
      },
      intervalMs: 86_400_000, lookbackDays: 3, threshold: '100', webhookUrl: undefined,
    });
    expect(() => loadConfig({}, { TOLLGATE_SHADOW_SPEND_THRESHOLD: '1e3' })).toThrow(/TOLLGATE_SHADOW_SPEND_THRESHOLD/);
    expect(() => loadConfig({}, { TOLLGATE_RECONCILE_LOOKBACK_DAYS: '0' })).toThrow(/TOLLGATE_RECONCILE_LOOKBACK_DAYS/);
  });
});
