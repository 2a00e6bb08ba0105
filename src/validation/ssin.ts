/**
 * Belgian national numbers (SSIN / INSZ / NISS): YYMMDD + 3-digit sequence + 2 check digits.
 * The check digits are 97 - (first nine digits mod 97); for people born in 2000 or later the nine
 * digits are prefixed with a 2 (i.e. 2000000000 is added) before taking the modulus. BIS numbers
 * (for people not in the National Register) add 20 (sex unknown) or 40 (sex known) to the month;
 * the check digits are computed the same way over the digits as written.
 */

export const SSIN_SYSTEMS = [
  'https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin',
  'https://www.ehealth.fgov.be/standards/fhir/NamingSystem/ssin',
] as const;

export function ssinCheckDigits(firstNine: number, bornFrom2000: boolean): number {
  return 97 - ((bornFrom2000 ? firstNine + 2000000000 : firstNine) % 97);
}

/** True when the 11 digits carry valid check digits under the pre-2000 or the 2000+ rule. */
export function isValidSsin(value: string): boolean {
  if (!/^[0-9]{11}$/.test(value)) return false;
  const firstNine = Number(value.slice(0, 9));
  const check = Number(value.slice(9));
  return ssinCheckDigits(firstNine, false) === check || ssinCheckDigits(firstNine, true) === check;
}

export type SsinKind = 'ssin' | 'bis-sex-unknown' | 'bis-sex-known';

/** What kind of number it is, from the month digits; undefined when the month cannot be one. */
export function ssinKind(value: string): SsinKind | undefined {
  if (!/^[0-9]{11}$/.test(value)) return undefined;
  const month = Number(value.slice(2, 4));
  if (month <= 12) return 'ssin';
  if (month >= 20 && month <= 32) return 'bis-sex-unknown';
  if (month >= 40 && month <= 52) return 'bis-sex-known';
  return undefined;
}
