/**
 * Reports name the model a call was served by, often a dated snapshot (OpenAI gpt-4.1-2025-04-14, Anthropic
 * claude-sonnet-4-20250514) of the catalog's model (gpt-4.1, claude-sonnet-4), which is what the ledger keeps.
 * An id the catalog knows is itself; an alias the catalog declares (model_aliases) is its model; a snapshot
 * whose undated id is either is that model; anything else keeps the report's id (spend on a model tollgate
 * does not serve is bypass by definition).
 */
const SNAPSHOT_SUFFIX = /-(\d{4}-\d{2}-\d{2}|\d{8})$/;

export function catalogModelMapper(catalogIds: Iterable<string>, aliases: ReadonlyMap<string, string> = new Map()): (reportedModel: string) => string {
  const known = new Set(catalogIds);
  const resolve = (id: string) => (known.has(id) ? id : aliases.get(id));
  return (id) => resolve(id) ?? resolve(id.replace(SNAPSHOT_SUFFIX, '')) ?? id;
}
