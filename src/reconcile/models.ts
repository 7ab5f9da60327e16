/**
 * Reports name the model a call was served by, often a dated snapshot (OpenAI gpt-4.1-2025-04-14, Anthropic
 * claude-sonnet-4-20250514) of the catalog's model (gpt-4.1, claude-sonnet-4), which is what the ledger keeps.
 * An id the catalog knows is itself; a snapshot whose undated id the catalog knows is that model; anything
 * else keeps the report's id (spend on a model tollgate does not serve is bypass by definition).
 */
const SNAPSHOT_SUFFIX = /-(\d{4}-\d{2}-\d{2}|\d{8})$/;

export function catalogModelMapper(catalogIds: Iterable<string>): (reportedModel: string) => string {
  const known = new Set(catalogIds);
  return (id) => {
    if (known.has(id)) return id;
    const undated = id.replace(SNAPSHOT_SUFFIX, '');
    return known.has(undated) ? undated : id;
  };
}
