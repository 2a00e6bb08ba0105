import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Language } from '../i18n/language.js';

/** The year of the population figures in fixtures/statbel: every population message names it. */
export const DATA_YEAR = 2020;
const MUNICIPALITIES_FILE = `municipalities-${DATA_YEAR}.csv`;
const MERGERS_FILE = 'nis-mergers-2025.csv';

export type BelgianRegion = 'flanders' | 'wallonia' | 'brussels';

export interface Municipality {
  /** NIS (REFNIS) code, 5 digits. */
  nis: string;
  nameNl: string;
  nameFr: string;
  region: BelgianRegion;
  population: number;
  /** A postal code of the municipality (the file gives one; not always the main one). */
  zip: string;
}

/** A NIS code resolved to the municipalities of the data year that it covers. */
export interface ResolvedCode {
  code: string;
  /** Which boundaries the code was read with. */
  boundaries: '2020' | '2025';
  /** NIS codes of the data year's municipalities (one, or several for a 2025 merger). */
  parts: string[];
}

/** Splits CSV text (RFC 4180: quoted fields, doubled quotes) into rows of fields. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

function records(text: string, file: string, required: string[]): Record<string, string>[] {
  const [header, ...rows] = parseCsv(text);
  for (const column of required) if (!header?.includes(column)) throw new Error(`${file}: column ${column} is missing`);
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, (r[i] ?? '').trim()])));
}

/** Folds case and accents, for matching municipality names ("Liège" = "liege"). */
export function foldName(name: string): string {
  return name
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

/** The folder with the Statbel files: fixtures/statbel above this module (src/ with tsx, dist/ after tsc). */
export function defaultStatbelDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'fixtures', 'statbel');
    if (existsSync(join(candidate, MUNICIPALITIES_FILE))) return candidate;
    dir = dirname(dir);
  }
  throw new Error(`fixtures/statbel/${MUNICIPALITIES_FILE} not found above ${fileURLToPath(import.meta.url)}`);
}

/**
 * The municipalities of Belgium with their Statbel population of the data year, and the 2025
 * mergers, so that a region given in 2020 or 2025 NIS codes can be summed (a 2025 code counts as
 * the 2020 municipalities that formed it). Loaded once at start-up.
 */
export class MunicipalityData {
  readonly year = DATA_YEAR;
  private readonly municipalities = new Map<string, Municipality>();
  /** 2025 NIS code of a merger -> the data year's codes that formed it, and its name. */
  private readonly mergers = new Map<string, { name: string; parts: string[] }>();
  /** Data-year codes that no longer exist on 1 January 2025 (merged under another code). */
  private readonly mergedAway = new Set<string>();
  private readonly byZip = new Map<string, string>();
  private readonly byName = new Map<string, string>();

  constructor(municipalitiesCsv: string, mergersCsv: string) {
    const regions: Record<string, BelgianRegion> = {
      'Vlaams Gewest': 'flanders',
      'Waals Gewest': 'wallonia',
      'Brussels Hoofdstedelijk Gewest': 'brussels',
    };
    for (const r of records(municipalitiesCsv, MUNICIPALITIES_FILE, ['NIS_code', 'municipality_NL', 'municipality_FR', 'region_NL', 'inhabitants', 'zip'])) {
      const region = regions[r.region_NL];
      const population = Number(r.inhabitants);
      if (!/^\d{5}$/.test(r.NIS_code) || !region || !Number.isSafeInteger(population)) {
        throw new Error(`${MUNICIPALITIES_FILE}: bad row ${JSON.stringify(r)}`);
      }
      const m: Municipality = { nis: r.NIS_code, nameNl: r.municipality_NL, nameFr: r.municipality_FR, region, population, zip: r.zip };
      this.municipalities.set(m.nis, m);
      if (m.zip && !this.byZip.has(m.zip)) this.byZip.set(m.zip, m.nis);
      this.byName.set(foldName(m.nameNl), m.nis);
      this.byName.set(foldName(m.nameFr), m.nis);
    }
    for (const r of records(mergersCsv, MERGERS_FILE, ['old_nis', 'new_nis', 'new_name'])) {
      if (!this.municipalities.has(r.old_nis)) throw new Error(`${MERGERS_FILE}: ${r.old_nis} is not a municipality of ${DATA_YEAR}`);
      const merger = this.mergers.get(r.new_nis) ?? { name: r.new_name.replace(/\s*\(voorlopige naam\)$/, ''), parts: [] };
      merger.parts.push(r.old_nis);
      this.mergers.set(r.new_nis, merger);
      if (r.old_nis !== r.new_nis) this.mergedAway.add(r.old_nis);
    }
  }

  static load(dir = defaultStatbelDir()): MunicipalityData {
    return new MunicipalityData(readFileSync(join(dir, MUNICIPALITIES_FILE), 'utf8'), readFileSync(join(dir, MERGERS_FILE), 'utf8'));
  }

  get count(): number {
    return this.municipalities.size;
  }

  municipality(nis: string): Municipality | undefined {
    return this.municipalities.get(nis);
  }

  /**
   * The data year's municipalities that a NIS code stands for. `version` is the Coding.version:
   * "2020" reads the code with the 2020 boundaries, "2025" with those after the mergers; without
   * it, a code that a 2025 merger created or kept (Antwerpen 11002 now includes Borsbeek) is read
   * as 2025, any other code as 2020. Undefined for a code that is no municipality then.
   */
  resolve(code: string, version?: string): ResolvedCode | undefined {
    const merger = this.mergers.get(code);
    if (version === '2025' || (version === undefined && merger)) {
      if (merger) return { code, boundaries: '2025', parts: [...merger.parts] };
      if (this.municipalities.has(code) && !this.mergedAway.has(code)) return { code, boundaries: '2025', parts: [code] };
      return undefined;
    }
    if (version !== undefined && version !== String(DATA_YEAR)) return undefined;
    return this.municipalities.has(code) ? { code, boundaries: '2020', parts: [code] } : undefined;
  }

  /** Sum of the data year's population of these municipalities (each counted once). */
  population(parts: Iterable<string>): number {
    let total = 0;
    for (const nis of new Set(parts)) total += this.municipalities.get(nis)?.population ?? 0;
    return total;
  }

  /**
   * The name of a municipality for a reader of `lang`: Dutch or French as asked; for English the
   * name in the language of its region (both in Brussels). A 2025 merger code gets its new name.
   */
  name(code: string, lang: Language): string {
    const m = this.municipalities.get(code);
    if (!m) return this.mergers.get(code)?.name ?? code;
    if (lang === 'nl') return m.nameNl;
    if (lang === 'fr') return m.nameFr;
    if (m.nameNl === m.nameFr) return m.nameNl;
    if (m.region === 'flanders') return m.nameNl;
    if (m.region === 'wallonia') return m.nameFr;
    return `${m.nameFr} / ${m.nameNl}`;
  }

  /**
   * The municipality (data-year NIS code) of an address: by the municipality name in `city` (Dutch
   * or French, case and accents ignored), else by its postal code when that is the one postal code
   * the Statbel file gives for a municipality (not always the main one: Liège has 4031).
   */
  locate(postalCode: string | undefined, city: string | undefined): string | undefined {
    const byName = city ? this.byName.get(foldName(city)) : undefined;
    if (byName) return byName;
    return postalCode ? this.byZip.get(postalCode.trim()) : undefined;
  }
}
