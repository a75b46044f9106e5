/**
 * The largest id a row can have: ids are increments(), a 32-bit integer on PostgreSQL. A larger id from a
 * client names no row; it must be refused before it reaches PostgreSQL, which fails the whole query on it.
 */
export const MAX_ROW_ID = 2 ** 31 - 1;
