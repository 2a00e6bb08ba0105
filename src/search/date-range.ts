/**
 * FHIR dates as half-open instant ranges [lo, hi): a value stands for every instant within its
 * precision ("2020-03" is the whole of March). Search compares such ranges (R4 search, 3.1.1.5.8).
 * Values without a time zone are taken as UTC, both when indexed and when searched, so that they
 * compare consistently.
 */
export interface DateRange {
  lo: Date;
  hi: Date;
}

const DATE_RE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

function utc(y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0): Date {
  const date = new Date(Date.UTC(y, mo, d, h, mi, s, ms));
  // Date.UTC reads years 0-99 as 1900-1999.
  if (y < 100) date.setUTCFullYear(y, mo, d);
  return date;
}

/** Parses a FHIR date, dateTime or instant (search values may also stop at minutes). */
export function parseDateRange(value: string): DateRange | undefined {
  const m = DATE_RE.exec(value.trim());
  if (!m) return undefined;
  const [, ys, mos, ds, hs, mis, ss, frac, tz] = m;
  const y = Number(ys);
  if (mos === undefined) return { lo: utc(y, 0, 1), hi: utc(y + 1, 0, 1) };
  const mo = Number(mos) - 1;
  if (mo < 0 || mo > 11) return undefined;
  if (ds === undefined) return { lo: utc(y, mo, 1), hi: utc(y, mo + 1, 1) };
  const d = Number(ds);
  const lastDay = utc(y, mo + 1, 0).getUTCDate();
  if (d < 1 || d > lastDay) return undefined;
  if (hs === undefined) return { lo: utc(y, mo, d), hi: utc(y, mo, d + 1) };
  const h = Number(hs);
  const mi = Number(mis);
  const s = ss === undefined ? 0 : Number(ss);
  if (h > 23 || mi > 59 || s > 59) return undefined;
  const ms = frac === undefined ? 0 : Math.floor(Number(`0.${frac}`) * 1000);
  let offsetMin = 0;
  if (tz && tz !== 'Z') {
    const sign = tz[0] === '-' ? -1 : 1;
    offsetMin = sign * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(4, 6)));
  }
  const lo = new Date(utc(y, mo, d, h, mi, s, ms).getTime() - offsetMin * 60000);
  const step = frac !== undefined ? 1 : ss !== undefined ? 1000 : 60000;
  return { lo, hi: new Date(lo.getTime() + step) };
}

export const MIN_DATE = new Date(-8640000000000000);
export const MAX_DATE = new Date(8640000000000000);

/** PostgreSQL text for a range bound; open ends are infinities. */
export function sqlTimestamp(date: Date): string {
  if (date.getTime() <= MIN_DATE.getTime()) return '-infinity';
  if (date.getTime() >= MAX_DATE.getTime()) return 'infinity';
  return date.toISOString();
}
