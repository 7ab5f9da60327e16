import fs from 'node:fs';
import path from 'node:path';
import { generate } from 'selfsigned';
import type { ConfigOverrides } from '../../src/config.js';
import type { EntraApp, EntraOptions } from '../../src/demo/fake-upstream/entra.js';

/** tollgate's app registration at the fake Entra authority (made-up ids, the shape of real ones). */
export const ENTRA_APP: EntraApp = Object.freeze({
  tenantId: '0b8a5c2e-4f1d-4e7a-9c3b-6d2f1a8e5b70',
  clientId: '5f3c9e1a-2b7d-4c8e-a1f6-9d0b3e7c4a21',
  clientSecret: 'tollgate-test-entra-secret~0123456789abcdef',
});

/** The fake authority's options: the app, and a fresh self-signed certificate for 127.0.0.1 (MSAL wants HTTPS). */
export async function entraAuthority(): Promise<EntraOptions> {
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keyType: 'ec', curve: 'P-256', extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  return { ...ENTRA_APP, tls: { key: pems.private, cert: pems.cert } };
}

/** The gateway's settings for Azure on Entra tokens from that authority (no key), its certificate trusted from a file in `dir`. */
export function entraSettings(authorityUrl: string, options: EntraOptions, dir: string, app: EntraApp = options): ConfigOverrides {
  const caFile = path.join(dir, 'entra-ca.pem');
  fs.writeFileSync(caFile, options.tls.cert);
  return {
    AZURE_OPENAI_API_KEY: undefined,
    TOLLGATE_AZURE_TENANT_ID: app.tenantId,
    TOLLGATE_AZURE_CLIENT_ID: app.clientId,
    TOLLGATE_AZURE_CLIENT_SECRET: app.clientSecret,
    TOLLGATE_AZURE_AUTHORITY_HOST: authorityUrl,
    TOLLGATE_AZURE_AUTHORITY_CA_FILE: caFile,
  };
}
