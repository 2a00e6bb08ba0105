import { describe, expect, it } from 'vitest';
import { parseDateRange } from '../../src/search/date-range.js';

const range = (v: string) => {
  const r = parseDateRange(v);
  return r && [r.lo.toISOString(), r.hi.toISOString()];
};

describe('FHIR dates as search ranges', () => {
  it('covers the whole year, month or day of a partial date', () => {
    expect(range('1948')).toEqual(['1948-01-01T00:00:00.000Z', '1949-01-01T00:00:00.000Z']);
    expect(range('1950-02')).toEqual(['1950-02-01T00:00:00.000Z', '1950-03-01T00:00:00.000Z']);
    expect(range('1950-02-14')).toEqual(['1950-02-14T00:00:00.000Z', '1950-02-15T00:00:00.000Z']);
    expect(range('1950-12-31')).toEqual(['1950-12-31T00:00:00.000Z', '1951-01-01T00:00:00.000Z']);
  });

  it('knows leap years in every century', () => {
    expect(range('2024-02-29')).not.toBeUndefined();
    expect(range('2000-02-29')).not.toBeUndefined();
    expect(range('1900-02-29')).toBeUndefined();
    expect(range('1950-02-29')).toBeUndefined();
    expect(range('0004-02-29')).toEqual(['0004-02-29T00:00:00.000Z', '0004-03-01T00:00:00.000Z']);
  });

  it('reads times at their precision and applies the time zone', () => {
    expect(range('2024-03-15T10:30:00+01:00')).toEqual(['2024-03-15T09:30:00.000Z', '2024-03-15T09:30:01.000Z']);
    expect(range('2024-03-15T10:30Z')).toEqual(['2024-03-15T10:30:00.000Z', '2024-03-15T10:31:00.000Z']);
    expect(range('2024-03-15T10:30:00.250Z')).toEqual(['2024-03-15T10:30:00.250Z', '2024-03-15T10:30:00.251Z']);
  });

  it('refuses what is not a date', () => {
    for (const bad of ['12-04-1948', '1948-13', '1948-04-31', '2024-03-15T25:00:00Z', 'yesterday', '']) expect(range(bad)).toBeUndefined();
  });
});
