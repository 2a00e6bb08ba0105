import type { SqlExecutor } from '../store/database.js';
import type { ResourceStore, StoreSession } from '../store/resource-store.js';
import { regionOf } from './consortium.js';
import { callOf, CONSORTIUM_TYPE, str, type Obj } from './model.js';
import type { MunicipalityData } from './statbel.js';

/** The directory resources the care-team rules read. */
export const DIRECTORY_TYPES = new Set(['PractitionerRole', 'OrganizationAffiliation', 'Organization']);

/** A span of time in ms (from a Period), open ends as ±Infinity. */
interface Span {
  lo: number;
  hi: number;
}

export interface RoleFact {
  id: string;
  practitioner?: string;
  organization?: string;
  /** `system|code` of PractitionerRole.code. */
  codes: string[];
  active: boolean;
  period?: Span;
}

export interface AffiliationFact {
  id: string;
  consortium?: string;
  partner?: string;
  active: boolean;
  period?: Span;
}

export interface ConsortiumFact {
  id: string;
  name: string;
  /** Organization.active is not false. */
  active: boolean;
  /** The data year's municipalities of its region. */
  parts: Set<string>;
  call?: string;
}

/** What the care-team rules know of the directory: roles, partnerships and consortia. */
export interface Directory {
  roles: Map<string, RoleFact>;
  rolesByPractitioner: Map<string, RoleFact[]>;
  affiliationsByPartner: Map<string, AffiliationFact[]>;
  consortia: Map<string, ConsortiumFact>;
}

/** Whether a role or partnership counts at this moment (active, within its period). */
export function isCurrent(fact: { active: boolean; period?: Span }, now: number): boolean {
  return fact.active && (!fact.period || (fact.period.lo <= now && now <= fact.period.hi));
}

/**
 * The directory in one round trip, from the search index (no JSON to parse) and the consortia's
 * content (their regions): every PractitionerRole and OrganizationAffiliation with their
 * practitioner, organisations, codes, active flag and period.
 */
const DIRECTORY_SQL = `SELECT 'ref' AS kind, res_type, res_id, param, target_id AS value, NULL::text AS system, NULL::timestamptz AS lo, NULL::timestamptz AS hi
    FROM idx_reference
    WHERE (res_type = 'PractitionerRole' AND param IN ('practitioner', 'organization'))
       OR (res_type = 'OrganizationAffiliation' AND param IN ('primary-organization', 'participating-organization'))
  UNION ALL SELECT 'token', res_type, res_id, param, code, system, NULL, NULL
    FROM idx_token
    WHERE (res_type = 'PractitionerRole' AND param IN ('role', 'active')) OR (res_type = 'OrganizationAffiliation' AND param = 'active')
  UNION ALL SELECT 'date', res_type, res_id, param, NULL, NULL, lo, hi
    FROM idx_date WHERE res_type IN ('PractitionerRole', 'OrganizationAffiliation') AND param = 'date'
  UNION ALL SELECT 'consortium', 'Organization', r.id, NULL, r.content, NULL, NULL, NULL
    FROM resource r WHERE r.res_type = 'Organization' AND NOT r.deleted
      AND r.id IN (SELECT t.res_id FROM idx_token t WHERE t.res_type = 'Organization' AND t.param = 'type' AND t.code = $1 AND t.system = $2)`;

type Row = {
  kind: 'ref' | 'token' | 'date' | 'consortium';
  res_type: string;
  res_id: string;
  param: string | null;
  value: string | null;
  system: string | null;
  /** A Date, or for an open end the driver's 'infinity' / '-infinity' (pg) or an invalid Date. */
  lo: Date | string | null;
  hi: Date | string | null;
};

function time(d: Date | string | null, open: number): number {
  if (d === null) return open;
  const t = d instanceof Date ? d.getTime() : Date.parse(d);
  return Number.isNaN(t) ? open : t;
}

export async function loadDirectory(exec: SqlExecutor, data: MunicipalityData): Promise<Directory> {
  const { rows } = await exec.query<Row>(DIRECTORY_SQL, [CONSORTIUM_TYPE.code, CONSORTIUM_TYPE.system]);
  const roles = new Map<string, RoleFact>();
  const affiliations = new Map<string, AffiliationFact>();
  const consortia = new Map<string, ConsortiumFact>();
  const role = (id: string) => {
    let r = roles.get(id);
    if (!r) roles.set(id, (r = { id, codes: [], active: true }));
    return r;
  };
  const affiliation = (id: string) => {
    let a = affiliations.get(id);
    if (!a) affiliations.set(id, (a = { id, active: true }));
    return a;
  };
  for (const row of rows) {
    if (row.kind === 'consortium') {
      if (!row.value) continue;
      const org = JSON.parse(row.value) as Obj;
      consortia.set(row.res_id, { id: row.res_id, name: str(org.name) ?? `Organization/${row.res_id}`, active: org.active !== false, parts: regionOf(org, data).parts, call: callOf(org) });
      continue;
    }
    const fact = row.res_type === 'PractitionerRole' ? role(row.res_id) : affiliation(row.res_id);
    if (row.kind === 'date') {
      fact.period = { lo: time(row.lo, -Infinity), hi: time(row.hi, Infinity) };
    } else if (row.kind === 'token') {
      if (row.param === 'active') fact.active = row.value !== 'false';
      else if (row.system && row.value) (fact as RoleFact).codes.push(`${row.system}|${row.value}`);
    } else if (row.value) {
      if (row.param === 'practitioner') (fact as RoleFact).practitioner = row.value;
      else if (row.param === 'organization') (fact as RoleFact).organization = row.value;
      else if (row.param === 'primary-organization') (fact as AffiliationFact).consortium = row.value;
      else if (row.param === 'participating-organization') (fact as AffiliationFact).partner = row.value;
    }
  }
  const rolesByPractitioner = new Map<string, RoleFact[]>();
  for (const r of roles.values()) if (r.practitioner) rolesByPractitioner.set(r.practitioner, [...(rolesByPractitioner.get(r.practitioner) ?? []), r]);
  const affiliationsByPartner = new Map<string, AffiliationFact[]>();
  for (const a of affiliations.values()) if (a.partner) affiliationsByPartner.set(a.partner, [...(affiliationsByPartner.get(a.partner) ?? []), a]);
  return { roles, rolesByPractitioner, affiliationsByPartner, consortia };
}

/**
 * The directory, kept between care-team writes. It is read again after a commit that changed a
 * PractitionerRole, OrganizationAffiliation or Organization through this process (exactly), and
 * at the latest `maxAgeMs` after it was read, for changes made through another replica or process.
 * A transaction that has itself changed the directory reads it afresh (not shared), so a
 * transaction Bundle that creates a role and then a team sees its own role.
 */
export class DirectoryCache {
  private generation = 0;
  private current?: { generation: number; at: number; directory: Promise<Directory> };
  private readonly watched = new WeakSet<ResourceStore>();

  constructor(
    private readonly data: MunicipalityData,
    readonly maxAgeMs = 5000,
  ) {}

  invalidate(): void {
    this.generation++;
    this.current = undefined;
  }

  get(session: StoreSession): Promise<Directory> {
    if (!this.watched.has(session.store)) {
      this.watched.add(session.store);
      session.store.onCommit((changes) => {
        if (changes.some((c) => DIRECTORY_TYPES.has(c.type))) this.invalidate();
      });
      this.invalidate();
    }
    if (session.changes.some((c) => DIRECTORY_TYPES.has(c.type))) return loadDirectory(session.exec, this.data);
    const now = Date.now();
    const hit = this.current;
    if (hit && hit.generation === this.generation && now - hit.at < this.maxAgeMs) return hit.directory;
    const entry = { generation: this.generation, at: now, directory: loadDirectory(session.exec, this.data) };
    entry.directory.catch(() => {
      if (this.current === entry) this.current = undefined;
    });
    this.current = entry;
    return entry.directory;
  }
}
