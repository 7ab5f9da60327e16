import type { ServiceTier } from '../../metering/pricing.js';

/** One price to import: what a catalog model costs per million tokens on one service tier. Decimal strings. */
export type PriceInput = {
  model_id: string;
  service_tier: ServiceTier;
  input_per_mtok: string;
  cached_input_per_mtok: string;
  cache_write_per_mtok: string;
  cache_write_1h_per_mtok: string | null;
  output_per_mtok: string;
  currency: string;
  source: string | null;
  /** When the file gives one (tollgate's format); otherwise --effective-from, or now. */
  effective_from?: string;
};

/** What a parsed price file holds, before it meets the price book: the prices, and what was left out and why. */
export type ParsedPrices = {
  prices: PriceInput[];
  /** Entries of providers and modes tollgate serves that name no catalog model (nor an alias of one). */
  notInCatalog: string[];
  /** Entries left out on purpose: another provider, a mode tollgate does not serve, no token price. */
  skipped: number;
  /** Entries whose prices cannot be stored exactly, or that contradict each other, with why. */
  rejected: { key: string; reason: string }[];
};

export const PRICE_KINDS = ['input_per_mtok', 'cached_input_per_mtok', 'cache_write_per_mtok', 'cache_write_1h_per_mtok', 'output_per_mtok'] as const;
export type PriceKind = (typeof PRICE_KINDS)[number];
