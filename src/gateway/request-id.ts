import crypto from 'node:crypto';

/**
 * A call's request id (the ledger's, the decision log's, its reservation's and the `x-tollgate-request-id`
 * header): a UUIDv7 (RFC 9562), whose first 48 bits are the Unix time in milliseconds and the other 74 random.
 * Calls made close in time get ids that sort close together, so the unique indexes keyed by request id take each
 * new id at their right edge, in pages already in memory, instead of at a random page of an index as large as
 * the ledger. It is a random v4 from Node with its first 48 bits set to the time and its version to 7: the
 * `uuid` package's v7 adds a counter for ids of the same millisecond, which nothing here needs, and took about
 * 40 times as long per id on Node 20.
 */
export function requestId(now: number = Date.now()): string {
  const random = crypto.randomUUID(); // xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx: version 4, RFC variant V
  const time = now.toString(16).padStart(12, '0');
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15)}`;
}
