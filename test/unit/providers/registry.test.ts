import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PROVIDERS, providerByName } from '../../../src/providers/registry.js';

const PROVIDERS_DIR = new URL('../../../src/providers/', import.meta.url);

describe('provider registry', () => {
  it('holds each provider under its own name, with its route and credential header', () => {
    expect(Object.keys(PROVIDERS).sort()).toEqual(['anthropic', 'azure', 'bedrock', 'gemini', 'openai', 'vertex']);
    expect(providerByName('openai')).toMatchObject({ root: '/openai', prefix: '/openai/v1', endpoints: ['/chat/completions', '/responses', '/embeddings'] });
    expect(providerByName('anthropic')).toMatchObject({ root: '/anthropic', prefix: '/anthropic/v1', endpoints: ['/messages', '/messages/count_tokens'] });
    expect(providerByName('openai')?.headerRules({ baseUrl: 'http://x', apiKey: 'sk-1' }).set).toEqual({ authorization: 'Bearer sk-1' });
    expect(providerByName('anthropic')?.headerRules({ baseUrl: 'http://x', apiKey: 'sk-ant-1' }).set).toEqual({ 'x-api-key': 'sk-ant-1' });
    expect(providerByName('azure')).toMatchObject({ root: '/azure', prefix: '/azure/openai', upstreamPrefix: '/openai', endpoints: ['/chat/completions', '/responses', '/embeddings'] });
    expect(providerByName('gemini')).toMatchObject({ root: '/gemini', prefix: '/gemini/v1beta', upstreamPrefix: '/v1beta', endpoints: [':generateContent', ':streamGenerateContent', ':countTokens'] });
    expect(providerByName('vertex')).toMatchObject({
      root: '/vertex', prefix: '/vertex/v1', upstreamPrefix: '/v1',
      endpoints: ['google:generateContent', 'google:streamGenerateContent', 'google:countTokens', 'anthropic:rawPredict', 'anthropic:streamRawPredict', 'anthropic:countTokens'],
    });
    // Vertex's credential is an OAuth token its signer mints, not a header of the settings.
    expect(providerByName('vertex')?.headerRules({ baseUrl: 'http://x' }).set).toEqual({});
    expect(providerByName('azure')?.headerRules({ baseUrl: 'http://x', apiKey: 'az-1' }).set).toEqual({ 'api-key': 'az-1' });
    expect(providerByName('gemini')?.headerRules({ baseUrl: 'http://x', apiKey: 'AIza-1' }).set).toEqual({ 'x-goog-api-key': 'AIza-1' });
    // Bedrock's credential is a signature per call (its upstreamSigner), not a header set once.
    expect(providerByName('bedrock')).toMatchObject({ root: '/bedrock', prefix: '/bedrock/model', upstreamPrefix: '/model', endpoints: ['/converse', '/converse-stream', '/invoke', '/invoke-with-response-stream'] });
    expect(providerByName('bedrock')?.headerRules({ baseUrl: 'http://x' }).set).toEqual({});
  });

  it('knows nothing else, not even inherited names', () => {
    expect(providerByName('mistral')).toBeUndefined();
    expect(providerByName('toString')).toBeUndefined();
  });

  it('has a folder per provider, each with the same file names (STYLE rule 5)', () => {
    const folders = fs.readdirSync(PROVIDERS_DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    expect(folders.sort()).toEqual(Object.keys(PROVIDERS).sort());
    const listings = folders.map((name) => fs.readdirSync(new URL(`${name}/`, PROVIDERS_DIR)).sort());
    for (const listing of listings) expect(listing).toEqual(listings[0]);
  });
});
