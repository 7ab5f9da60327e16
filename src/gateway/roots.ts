import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ProviderAdapter } from '../providers/types.js';
import { endpointOf } from './decide.js';
import { deny, gatewayDenial } from './deny.js';
import { readTags } from './tags.js';
import { treeOf, treesOf } from './route.js';

/**
 * A provider's root (`/anthropic`, `/openai`) and the paths under it outside the forwarded prefix. A client may
 * look there before any call (Claude Code has checked its base URL with HEAD; health probes GET it), so GET and
 * HEAD get a cheap 200 saying this is tollgate's route for the provider and what it forwards: no credential is
 * read and nothing is metered, as no call was made. Anything else there is an endpoint tollgate does not
 * forward: 404 unsupported_endpoint in the provider's shape, logged like every denial.
 */
export function providerRoots(app: FastifyInstance, scope: FastifyInstance, adapter: ProviderAdapter): void {
  const description = JSON.stringify({
    service: 'tollgate',
    provider: adapter.name,
    forwards: treesOf(adapter).flatMap((tree) => (adapter.paths ?? adapter.endpoints).map((path) => `POST ${tree.prefix}${path}`)),
  });
  const refuse = (request: FastifyRequest, reply: FastifyReply) => {
    // What the caller claimed is kept (checked like any claim), attributed to nobody: nobody authenticated.
    const read = readTags(request.raw);
    return deny(app, request, reply, {
      adapter, endpoint: endpointOf(request.url, treeOf(adapter, request.url).prefix), ts: new Date(), decision: gatewayDenial('unsupported_endpoint'),
      ...(read.ok ? { tags: read.tags, parentId: read.parentId } : {}), revision: null,
    });
  };
  for (const path of [adapter.root, `${adapter.root}/`]) {
    scope.get(path, (_request, reply) => reply.type('application/json').send(description));
    scope.route({ method: ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], url: path, handler: refuse });
  }
  scope.all(`${adapter.root}/*`, refuse);
}
