/**
 * String search is case- and accent-insensitive (R4 3.1.1.5.6): "francoise" finds "Françoise",
 * "De Smet" finds "de smet". Indexed values and search values go through the same function.
 */
export function normalizeString(value: string): string {
  return value.normalize('NFD').replace(/\p{M}+/gu, '').toLowerCase().replace(/\s+/g, ' ').trim();
}

/** Escapes LIKE metacharacters so that user input only ever matches itself. */
export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}
