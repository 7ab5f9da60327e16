import type { FastifyInstance } from 'fastify';
import { FINANCE_PAGE } from '../council/assets.js';
import { servePage } from '../council/plugin.js';

/**
 * Finance's page at /finance: static files only, like the council's (same headers, same build). It reads
 * /graphql with the token the user gives it, so a BU owner's token shows that BU only (src/graphql/access.ts).
 */
export async function financePage(app: FastifyInstance): Promise<void> {
  servePage(app, '/finance', FINANCE_PAGE);
}
