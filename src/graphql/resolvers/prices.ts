import { pricesInForce } from '../../catalog/prices/report.js';
import { loadPriceHistory, type PriceVersion } from '../../db/price-book.js';
import { authorize } from '../access.js';
import { withTimeout, type GqlContext } from '../context.js';

/** The price book: what is in force, and each model's history. */

function priceOut(p: PriceVersion) {
  return {
    id: String(p.id), model: p.model_id, provider: p.provider_id, serviceTier: (p.service_tier ?? 'standard').toUpperCase(),
    effectiveFrom: new Date(p.effective_from), inputPerMTok: p.input_per_mtok, cachedInputPerMTok: p.cached_input_per_mtok,
    cacheWritePerMTok: p.cache_write_per_mtok, cacheWrite1hPerMTok: p.cache_write_1h_per_mtok ?? null, outputPerMTok: p.output_per_mtok,
    currency: p.currency, source: p.source, recordedAt: p.recorded_at,
  };
}

export const priceResolvers = {
  Query: {
    prices: async (_: unknown, args: { model?: string | null; at?: Date | null }, ctx: GqlContext) => {
      authorize(ctx.caller, 'prices');
      const rows = await withTimeout(ctx, () => loadPriceHistory(ctx.db, args.model ?? undefined));
      return pricesInForce(rows, args.at ?? new Date()).map(priceOut);
    },
    priceHistory: async (_: unknown, args: { model: string }, ctx: GqlContext) => {
      authorize(ctx.caller, 'prices');
      return (await withTimeout(ctx, () => loadPriceHistory(ctx.db, args.model))).map(priceOut);
    },
  },
};

export const priceLoaders = {};
