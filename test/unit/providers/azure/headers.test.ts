import { describe, expect, it } from 'vitest';
import { azure } from '../../../../src/providers/azure/index.js';

const ENTRA = { tenantId: 't', clientId: 'c', clientSecret: 's', authorityHost: 'https://login.microsoftonline.com' };

describe('Azure upstream signer', () => {
  it('is built only for an Entra app without a key: a key, when set, is used as before', () => {
    expect(azure.upstreamSigner!({ baseUrl: 'https://r.openai.azure.com', entra: ENTRA })).toBeTypeOf('function');
    expect(azure.upstreamSigner!({ baseUrl: 'https://r.openai.azure.com', apiKey: 'k', entra: ENTRA })).toBeNull();
    expect(azure.upstreamSigner!({ baseUrl: 'https://r.openai.azure.com' })).toBeNull();
    expect(azure.headerRules({ baseUrl: 'https://r.openai.azure.com', entra: ENTRA }).set).toEqual({});
  });
});
