import { describe, expect, it } from 'vitest';
import { boundOf, overBound, referencesServerState, type BoundedCall } from '../../../src/metering/bound.js';

const LIMITS = { inputAllowance: 1000, stateAllowance: 1_000_000, outputUnset: 50_000 };
const usage = (input: number, output: number, cached = 0, write = 0) => ({ input_tokens: input, cached_input_tokens: cached, cache_write_tokens: write, output_tokens: output });
const call = (over: Partial<BoundedCall> = {}): BoundedCall => ({ bodyBytes: 500, choices: 1, outputLimit: 16, requestBody: { messages: [] }, ...over });

describe('the bound of what a call can be billed', () => {
  it('is a token per body byte plus the allowance in, and the output limit × answers out', () => {
    expect(boundOf(call(), LIMITS)).toEqual({ input_tokens: 1500, output_tokens: 16 });
    expect(boundOf(call({ choices: 128, outputLimit: 2000 }), LIMITS)).toEqual({ input_tokens: 1500, output_tokens: 256_000 });
    expect(boundOf(call({ outputLimit: null, choices: 2 }), LIMITS).output_tokens).toBe(100_000);
    expect(boundOf(call({ outputLimit: 0 }), LIMITS).output_tokens).toBe(0); // embeddings
    expect(boundOf(call({ outputLimit: 1e16, choices: 1000 }), LIMITS).output_tokens).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('lets usage within it through untouched (null)', () => {
    expect(overBound(usage(1400, 16, 100), call(), LIMITS)).toBeNull();
  });

  it('cuts output at the bound and scales the input kinds down together', () => {
    expect(overBound(usage(10, 17), call(), LIMITS)).toEqual({ billed: usage(10, 16), bound: { input_tokens: 1500, output_tokens: 16 } });
    const over = overBound(usage(3000, 1, 2000, 1000), call(), LIMITS)!;
    expect(over.billed).toEqual(usage(750, 1, 500, 250));
    expect(over.billed.input_tokens + over.billed.cached_input_tokens + over.billed.cache_write_tokens).toBe(1500);
  });

  it('takes the state allowance when the body references content the provider holds or fetches', () => {
    expect(overBound(usage(900_000, 1), call({ requestBody: { previous_response_id: 'resp_1' } }), LIMITS)).toBeNull();
    expect(overBound(usage(2_000_000, 1), call({ requestBody: { previous_response_id: 'resp_1' } }), LIMITS)?.bound.input_tokens).toBe(1_000_500);
  });
});

describe('bodies that reference server-side state or remote content', () => {
  it.each([
    ['previous_response_id', { previous_response_id: 'resp_1', input: 'hi' }],
    ['conversation', { conversation: { id: 'conv_1' } }],
    ['a stored prompt', { prompt: { id: 'pmpt_1' } }],
    ['a file by id', { messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-1' } }] }] }],
    ['an image by URL (chat)', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }] }],
    ['an image by URL (Responses)', { input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'https://example.com/a.png' }] }] }],
    ['a document by URL (Anthropic)', { messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'url', url: 'https://example.com/a.pdf' } }] }] }],
    ['a server tool (Responses)', { tools: [{ type: 'web_search' }] }],
    ['a server tool (Anthropic)', { tools: [{ type: 'web_search_20250305', name: 'web_search' }] }],
    ['MCP servers', { mcp_servers: [{ type: 'url', url: 'https://mcp.example.com' }] }],
    ['a context cache (Gemini)', { cachedContent: 'cachedContents/abc', contents: [] }],
    ['a file by URI (Gemini)', { contents: [{ role: 'user', parts: [{ fileData: { fileUri: 'https://generativelanguage.googleapis.com/v1beta/files/x', mimeType: 'application/pdf' } }] }] }],
    ['a server tool (Gemini)', { contents: [], tools: [{ googleSearch: {} }] }],
  ])('%s', (_what, body) => {
    expect(referencesServerState(body)).toBe(true);
  });

  it.each([
    ['plain messages', { messages: [{ role: 'user', content: 'hi' }] }],
    ['an inline image (data: URL)', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }] }],
    ['function tools', { tools: [{ type: 'function', function: { name: 'lookup' } }, { name: 'client_tool', input_schema: {} }] }],
    ['null state fields', { previous_response_id: null, conversation: null }],
    ['function declarations (Gemini)', { contents: [{ role: 'user', parts: [{ text: 'hi' }] }], tools: [{ functionDeclarations: [{ name: 'lookup' }] }] }],
  ])('not %s', (_what, body) => {
    expect(referencesServerState(body)).toBe(false);
  });
});
