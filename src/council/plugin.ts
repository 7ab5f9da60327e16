import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { COUNCIL_PAGE, loadCouncilAssets, type Asset, type CouncilAssets, type PageSpec } from './assets.js';

/**
 * The council's review page at /council: static files only. The page reads /graphql with the token the
 * user gives it, so this plugin needs no database and no auth of its own.
 */

/** Self only, nothing inline; form-action 'none' so that a token form can never be submitted into a URL. */
export const COUNCIL_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "connect-src 'self'",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = Object.freeze({
  'content-security-policy': COUNCIL_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
});

export async function councilPage(app: FastifyInstance): Promise<void> {
  servePage(app, '/council', COUNCIL_PAGE);
}

/** A page's files at `prefix` (its index at the prefix itself), with the security headers above. */
export function servePage(app: FastifyInstance, prefix: string, page: PageSpec): void {
  let assets: Promise<CouncilAssets> | undefined;
  // Loaded on first request (bundling takes a moment); a failed load is retried on the next one.
  const load = () => (assets ??= loadCouncilAssets(page).catch((err: unknown) => {
    assets = undefined;
    throw err;
  }));
  const serve = (name: string) => async (request: FastifyRequest, reply: FastifyReply) => {
    const asset = (await load()).get(name);
    return asset ? send(request, reply, asset) : reply.callNotFound();
  };
  app.get(prefix, serve('index.html'));
  app.get(`${prefix}/`, serve('index.html'));
  app.get<{ Params: { file: string } }>(`${prefix}/:file`, async (request, reply) => {
    const { file } = request.params;
    return file === 'index.html' ? reply.callNotFound() : serve(file)(request, reply);
  });
}

function send(request: FastifyRequest, reply: FastifyReply, asset: Asset) {
  reply.headers(SECURITY_HEADERS).header('etag', asset.etag);
  if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  return reply.type(asset.type).send(asset.body);
}
