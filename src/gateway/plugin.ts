import type { FastifyError, FastifyInstance } from 'fastify';
import httpProxy from '@fastify/http-proxy';
import { PROVIDERS } from '../providers/registry.js';
import { decideHook, endpointOf } from './decide.js';
import { treeOf, treesOf } from './route.js';
import { deny, gatewayDenial } from './deny.js';
import { readTags } from './tags.js';
import { forwardHandler } from './forward.js';
import { providerRoots } from './roots.js';
import { ownJsonParser } from './body.js';
import { headerFilter } from './headers.js';
import { sendProviderError } from './respond.js';
import { guardSigner } from './signer-guard.js';
import { ERRORS, TollgateError, type ErrorCode } from '../errors.js';
import type { ProviderName } from '../config.js';

const UNCONFIGURED_UPSTREAM = 'http://unconfigured.invalid';

/** One proxied route tree per provider (/openai/v1/*, /anthropic/v1/*), beside the provider's root. */
export async function gatewayRoutes(app: FastifyInstance): Promise<void> {
  for (const adapter of Object.values(PROVIDERS)) {
    const settings = app.tollgate.config.providers[adapter.name as ProviderName];
    const headers = headerFilter(adapter.headerRules(settings));
    // Built once: a signer caches and refreshes tollgate's token for the vendor itself.
    const own = adapter.upstreamSigner?.(settings) ?? null;
    const signer = own === null ? null : guardSigner(own);
    await app.register(async (scope) => {
      ownJsonParser(scope);
      // Requests Fastify refuses before the hooks run (unparseable or too deep body, wrong content type, too
      // large) are denials like any other: same error shape, same decision log.
      scope.setErrorHandler((err: FastifyError | TollgateError, request, reply) => {
        const { code, message } = refusalOf(err);
        if (code === 'internal_error') {
          request.log.error({ err }, 'gateway error');
          return sendProviderError(reply, adapter, { status: ERRORS[code].status, code, message });
        }
        const read = readTags(request.raw);
        const denial = { adapter, endpoint: endpointOf(request.url, treeOf(adapter, request.url).prefix), ts: new Date(), decision: gatewayDenial(code, message), revision: null };
        return deny(app, request, reply, read.ok ? { ...denial, tags: read.tags, parentId: read.parentId } : denial);
      });
      providerRoots(app, scope, adapter);
      const decide = decideHook(app, adapter, signer);
      const forward = forwardHandler(app, headers);
      // One proxied tree per route prefix (Vertex AI serves two API versions), each in its own scope: reply-from once each.
      for (const tree of treesOf(adapter)) {
        await scope.register(async (inner) => inner.register(httpProxy, {
          // A vendor without a base URL is refused before forwarding (provider_not_configured); the proxy needs one anyway.
          upstream: settings.baseUrl || UNCONFIGURED_UPSTREAM,
          prefix: tree.prefix,
          rewritePrefix: tree.upstreamPrefix,
          httpMethods: ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT', 'OPTIONS'],
          // Given a preValidation hook, the proxy keeps the scope's JSON parser (the policy needs the parsed body).
          // The decision is that hook: no schema runs between the two stages, and one stage fewer per call.
          preValidation: decide,
          handler: forward,
          replyOptions: { rewriteHeaders: (upstream: Parameters<typeof headers.response>[0]) => headers.response(upstream) },
          http: undefined,
          undici: { headersTimeout: app.tollgate.config.upstreamTimeoutMs, bodyTimeout: app.tollgate.config.upstreamTimeoutMs },
        } as Parameters<typeof httpProxy>[1]));
      }
    });
  }
}

function refusalOf(err: FastifyError | TollgateError): { code: ErrorCode; message: string } {
  if (err instanceof TollgateError) return { code: err.code, message: err.message };
  const code = parseErrorCode(err);
  return { code, message: code === 'invalid_request' ? `${ERRORS.invalid_request.message} (${err.message})` : ERRORS[code].message };
}

function parseErrorCode(err: FastifyError): ErrorCode {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'body_too_large';
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'invalid_request';
    default:
      return err.statusCode && err.statusCode < 500 && err.statusCode >= 400 ? 'invalid_request' : 'internal_error';
  }
}
