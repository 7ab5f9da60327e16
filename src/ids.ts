/**
 * The one shape of an id a caller gives tollgate (tags, the parent call id, a broker JWT's agent claim): 1 to
 * 128 ASCII letters, digits and `_ . : -`, the tool-name alphabet. UUIDs, ULIDs, prefixed ids (`sess_01J…`),
 * trace ids and catalog ids fit; whitespace, commas, quotes, control characters and non-ASCII do not, so a
 * value reads the same in a header (bytes Node decodes as latin1) and in baggage (percent-decoded UTF-8), and
 * any btree index, jsonb value or log line takes it.
 */
export const MAX_ID_LENGTH = 128;
export const ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
export const ID_ALPHABET = 'A-Z a-z 0-9 _ . : -';
