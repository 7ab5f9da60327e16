import type { Knex } from 'knex';

/**
 * One model, several vendors (issue 14): a vendor's model is a catalog model of that provider (azure/gpt-4.1,
 * gemini/gemini-2.5-flash) with its own prices and ladder, and
 * - canonical_model_id: the model it is on another vendor's contract (azure/gpt-4.1 → gpt-4.1); an agent allowed
 *   the canonical model may use it on every vendor, one allowed the vendor's model only there;
 * - vendor_model_id: the id the vendor's API takes when tollgate itself picks the model (a downgrade): an Azure
 *   deployment name, a Gemini model id; null: the catalog id.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('models', (t) => {
    t.text('canonical_model_id').references('models.id');
    t.text('vendor_model_id');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('models', (t) => {
    t.dropColumn('vendor_model_id');
    t.dropColumn('canonical_model_id');
  });
}
