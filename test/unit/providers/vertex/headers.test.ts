import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { headerRules, upstreamSigner } from '../../../../src/providers/vertex/headers.js';

describe('Vertex AI credentials', () => {
  it('sets no header of its own: the signer puts tollgate\'s token on, and the agent\'s credential is not allowed through', () => {
    const rules = headerRules();
    expect(rules.set).toEqual({});
    for (const header of ['authorization', 'x-goog-api-key', 'x-goog-user-project', 'anthropic-beta']) expect(rules.request).not.toContain(header);
  });

  it('is not configured without a project or a key file, and stops the start on a key file that is not a service account\'s', () => {
    expect(upstreamSigner({ baseUrl: 'http://x', credentialsFile: '/k.json' })).toBeNull();
    expect(upstreamSigner({ baseUrl: 'http://x', project: 'billing-1' })).toBeNull();
    expect(() => upstreamSigner({ baseUrl: 'http://x', project: 'billing-1', credentialsFile: '/no/such/file.json' })).toThrow(/TOLLGATE_VERTEX_CREDENTIALS/);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vertex-')), 'user.json');
    fs.writeFileSync(file, JSON.stringify({ type: 'authorized_user', client_id: 'x', refresh_token: 'y' }));
    expect(() => upstreamSigner({ baseUrl: 'http://x', project: 'billing-1', credentialsFile: file })).toThrow(/not a service account key file/);
  });
});
