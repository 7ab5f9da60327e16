import { scalarResolvers } from '../scalars.js';
import { adjacencyLoaders, adjacencyResolvers } from './adjacency.js';
import { budgetLoaders, budgetResolvers } from './budgets.js';
import { catalogLoaders, catalogResolvers } from './catalog.js';
import { chargebackLoaders, chargebackResolvers } from './chargeback.js';
import { decisionLoaders, decisionResolvers } from './decisions.js';
import { downgradeLoaders, downgradeResolvers } from './downgrades.js';
import { outcomeLoaders, outcomeResolvers } from './outcomes.js';
import { priceLoaders, priceResolvers } from './prices.js';
import { reviewResolvers } from './review.js';
import { sessionLoaders, sessionResolvers } from './sessions.js';
import { shadowLoaders, shadowResolvers } from './shadow.js';

/**
 * Every feature's resolvers and loaders, merged by type. A feature adds its module to the two lists below
 * (one line each); types it shares with others (Query, Mutation) are merged field by field.
 */
type ResolverMap = Record<string, Record<string, unknown>>;

const RESOLVERS: ResolverMap[] = [adjacencyResolvers, budgetResolvers, catalogResolvers, chargebackResolvers, decisionResolvers, downgradeResolvers, outcomeResolvers, priceResolvers, reviewResolvers, sessionResolvers, shadowResolvers];
const LOADERS: ResolverMap[] = [adjacencyLoaders, budgetLoaders, catalogLoaders, chargebackLoaders, decisionLoaders, downgradeLoaders, outcomeLoaders, priceLoaders, sessionLoaders, shadowLoaders];

export const resolvers = { ...scalarResolvers, ...merge(RESOLVERS) };
export const loaders = merge(LOADERS);

function merge(maps: ResolverMap[]): ResolverMap {
  const out: ResolverMap = {};
  for (const m of maps) {
    for (const [type, fields] of Object.entries(m)) {
      for (const field of Object.keys(fields)) {
        if (out[type]?.[field]) throw new Error(`two resolvers for ${type}.${field}`);
      }
      out[type] = { ...out[type], ...fields };
    }
  }
  return out;
}
