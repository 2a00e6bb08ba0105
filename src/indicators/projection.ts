import { parseDateRange, sqlTimestamp } from '../search/date-range.js';
import { arr, codingKeys, isObj, str, type Obj } from '../rules/model.js';
import type { MunicipalityData } from '../rules/statbel.js';
import type { SqlExecutor } from '../store/database.js';
import type { Change, ResourceStore } from '../store/resource-store.js';

/**
 * The indicator projection (migration 004): the few facts per resource that the indicators count,
 * in narrow tables, written in the transaction of each write by a store hook, so that the
 * indicators are SQL over these tables and never parse resource JSON. Extraction is plain code
 * over the resource; the same function fills the tables for one write (the hook) and for many
 * resources at once (rebuild, bulk loads).
 */
export const PROJECTED_TYPES = new Set(['Patient', 'CareTeam', 'CarePlan', 'Condition', 'Goal', 'Consent']);

/** A resource as the projection needs it: content (null when deleted) and when it was stored. */
export interface ProjectedChange {
  type: string;
  id: string;
  json: string | null;
  /** When this version was stored: first_seen of a new resource, status_since of a new status. */
  lastUpdated: Date;
  /** For rebuilds: when the first version was stored (else lastUpdated is used for new rows). */
  firstSeen?: Date;
  /** For rebuilds: when every version was stored (plans keep this history; a write adds lastUpdated). */
  versions?: Date[];
}

type Row = Record<string, unknown>;

/** `Type/id` of a relative reference. */
function ref(v: unknown): { type: string; id: string } | undefined {
  const m = isObj(v) && typeof v.reference === 'string' ? /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(v.reference) : null;
  return m ? { type: m[1], id: m[2] } : undefined;
}

/** The first instant of a FHIR date or dateTime (ISO text for SQL), or null. */
function lo(value: unknown): string | null {
  const r = typeof value === 'string' ? parseDateRange(value) : undefined;
  return r ? sqlTimestamp(r.lo) : null;
}

/** The instant after a FHIR date or dateTime (a period ending 2024-03-31 lasts all that day). */
function hi(value: unknown): string | null {
  const r = typeof value === 'string' ? parseDateRange(value) : undefined;
  return r ? sqlTimestamp(r.hi) : null;
}

const later = (a: string | null, b: string | null) => (a === null ? b : b === null ? a : a > b ? a : b);
const earlier = (a: string | null, b: string | null) => (a === null ? b : b === null ? a : a < b ? a : b);

/** A birth date as a SQL date (a year or year-month stands for its first day). */
function birthDate(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(value);
  if (!m) return null;
  return `${m[1]}-${m[2] ?? '01'}-${m[3] ?? '01'}`;
}

/** The code of a CodeableConcept with the given system (a status such as condition-clinical). */
function statusCode(concept: unknown): string | null {
  for (const c of arr(isObj(concept) ? concept.coding : undefined)) if (isObj(c) && typeof c.code === 'string') return c.code;
  return null;
}

export interface ProjectionRows {
  patient: Row[];
  residence: Row[];
  team: Row[];
  member: Row[];
  plan: Row[];
  address: Row[];
  condition: Row[];
  goal: Row[];
  consent: Row[];
  /** Ids per type whose rows go (deleted, or no longer about a patient). */
  removed: Record<string, string[]>;
  /** Ids per type whose child rows are replaced. */
  touched: Record<string, string[]>;
}

export function emptyRows(): ProjectionRows {
  return { patient: [], residence: [], team: [], member: [], plan: [], address: [], condition: [], goal: [], consent: [], removed: {}, touched: {} };
}

/** Adds the projection rows of one resource (or its removal) to `out`. */
export function projectResource(change: ProjectedChange, data: MunicipalityData, out: ProjectionRows): void {
  const { type, id } = change;
  (out.touched[type] ??= []).push(id);
  const r = change.json ? (JSON.parse(change.json) as Obj) : undefined;
  const at = change.lastUpdated.toISOString();
  const firstSeen = (change.firstSeen ?? change.lastUpdated).toISOString();
  const remove = (): void => {
    (out.removed[type] ??= []).push(id);
  };
  if (!r) return remove();
  const patientOf = (v: unknown) => {
    const p = ref(v);
    return p?.type === 'Patient' ? p.id : undefined;
  };
  switch (type) {
    case 'Patient': {
      out.patient.push({ patient_id: id, birth_date: birthDate(r.birthDate), gender: str(r.gender) ?? null });
      // As the care-team rules place a patient (docs/rules.md): the home address, else any other,
      // each with its period; an old address only when its period says when it ended.
      for (const a of arr(r.address).filter(isObj)) {
        const use = str(a.use) ?? '';
        const rank = use === 'home' ? 0 : use === 'old' ? 2 : 1;
        const period = isObj(a.period) ? a.period : {};
        const end = hi(period.end);
        if (use === 'old' && !end) continue;
        const nis = data.locate(str(a.postalCode), str(a.city));
        if (nis) out.residence.push({ patient_id: id, nis, rank, period_start: lo(period.start), period_end: end });
      }
      return;
    }
    case 'CareTeam': {
      const patient = patientOf(r.subject);
      if (!patient) return remove();
      const period = isObj(r.period) ? r.period : {};
      const start = lo(period.start);
      const end = hi(period.end);
      const managing = arr(r.managingOrganization).map(ref).filter((o) => o?.type === 'Organization').map((o) => o!.id);
      out.team.push({ team_id: id, patient_id: patient, status: str(r.status) ?? 'unknown', status_since: at, period_start: start, period_end: end, managing });
      for (const p of arr(r.participant).filter(isObj)) {
        const member = ref(p.member);
        if (!member) continue;
        const pp = isObj(p.period) ? p.period : {};
        const row = { team_id: id, member_type: member.type, member_id: member.id, period_start: later(start, lo(pp.start)), period_end: earlier(end, hi(pp.end)) };
        const roles = codingKeys(...arr(p.role));
        for (const role_key of roles.length ? roles : [null]) out.member.push({ ...row, role_key });
      }
      return;
    }
    case 'CarePlan': {
      const patient = patientOf(r.subject);
      if (!patient) return remove();
      const period = isObj(r.period) ? r.period : {};
      out.plan.push({
        plan_id: id,
        patient_id: patient,
        status: str(r.status) ?? 'unknown',
        status_since: at,
        plan_start: lo(period.start) ?? lo(r.created),
        period_end: hi(period.end),
        instantiates: arr(r.instantiatesCanonical).filter((c): c is string => typeof c === 'string'),
        team_ids: arr(r.careTeam).map(ref).filter((t) => t?.type === 'CareTeam').map((t) => t!.id),
        goal_count: arr(r.goal).length,
        first_seen: firstSeen,
        updates: (change.versions ?? [change.lastUpdated]).map((d) => d.toISOString()),
      });
      for (const c of arr(r.addresses).map(ref)) if (c?.type === 'Condition') out.address.push({ plan_id: id, condition_id: c.id });
      return;
    }
    case 'Condition': {
      const patient = patientOf(r.subject);
      if (!patient) return remove();
      const abatementPeriod = isObj(r.abatementPeriod) ? r.abatementPeriod : {};
      out.condition.push({
        condition_id: id,
        patient_id: patient,
        clinical: statusCode(r.clinicalStatus),
        verification: statusCode(r.verificationStatus),
        code_keys: codingKeys(r.code),
        recorded: lo(r.recordedDate),
        onset: lo(r.onsetDateTime) ?? lo(isObj(r.onsetPeriod) ? r.onsetPeriod.start : undefined),
        abatement: hi(r.abatementDateTime) ?? hi(abatementPeriod.end) ?? hi(abatementPeriod.start),
        first_seen: firstSeen,
      });
      return;
    }
    case 'Goal': {
      const patient = patientOf(r.subject);
      if (!patient) return remove();
      const by = ref(r.expressedBy);
      out.goal.push({
        goal_id: id,
        patient_id: patient,
        lifecycle: str(r.lifecycleStatus) ?? 'unknown',
        goal_start: lo(r.startDate),
        expressed_type: by?.type ?? null,
        expressed_id: by?.id ?? null,
        first_seen: firstSeen,
      });
      return;
    }
    case 'Consent': {
      const patient = patientOf(r.patient);
      if (!patient) return remove();
      const provision = isObj(r.provision) ? r.provision : {};
      const period = isObj(provision.period) ? provision.period : {};
      out.consent.push({
        consent_id: id,
        patient_id: patient,
        status: str(r.status) ?? 'unknown',
        date_time: lo(r.dateTime),
        provision_type: str(provision.type) ?? null,
        period_start: lo(period.start),
        period_end: hi(period.end),
      });
      return;
    }
  }
}

const recordset = (n: number, columns: string) => `jsonb_to_recordset($${n}::jsonb) AS x(${columns})`;

/**
 * One statement per table group: removed rows go, main rows are upserted (first_seen and
 * status_since survive updates), child rows are replaced. Sub-statements of one statement do not
 * see each other's rows, so deleting the old child rows and inserting the new ones is exact.
 */
const SQL = {
  Patient: `WITH d1 AS (DELETE FROM ind_patient WHERE patient_id = ANY($1::text[])),
    d2 AS (DELETE FROM ind_residence WHERE patient_id = ANY($2::text[])),
    i1 AS (INSERT INTO ind_patient (patient_id, birth_date, gender) SELECT * FROM ${recordset(3, 'patient_id text, birth_date date, gender text')}
      ON CONFLICT (patient_id) DO UPDATE SET birth_date = EXCLUDED.birth_date, gender = EXCLUDED.gender),
    i2 AS (INSERT INTO ind_residence (patient_id, nis, rank, period_start, period_end)
      SELECT * FROM ${recordset(4, 'patient_id text, nis text, rank integer, period_start timestamptz, period_end timestamptz')})
    SELECT 1`,
  CareTeam: `WITH d1 AS (DELETE FROM ind_team WHERE team_id = ANY($1::text[])),
    d2 AS (DELETE FROM ind_team_member WHERE team_id = ANY($2::text[])),
    i1 AS (INSERT INTO ind_team (team_id, patient_id, status, status_since, period_start, period_end, managing)
      SELECT x.team_id, x.patient_id, x.status, x.status_since, x.period_start, x.period_end, ARRAY(SELECT jsonb_array_elements_text(x.managing))
      FROM ${recordset(3, 'team_id text, patient_id text, status text, status_since timestamptz, period_start timestamptz, period_end timestamptz, managing jsonb')}
      ON CONFLICT (team_id) DO UPDATE SET patient_id = EXCLUDED.patient_id, status = EXCLUDED.status,
        status_since = CASE WHEN ind_team.status = EXCLUDED.status THEN ind_team.status_since ELSE EXCLUDED.status_since END,
        period_start = EXCLUDED.period_start, period_end = EXCLUDED.period_end, managing = EXCLUDED.managing),
    i2 AS (INSERT INTO ind_team_member (team_id, member_type, member_id, role_key, period_start, period_end)
      SELECT * FROM ${recordset(4, 'team_id text, member_type text, member_id text, role_key text, period_start timestamptz, period_end timestamptz')})
    SELECT 1`,
  CarePlan: `WITH d1 AS (DELETE FROM ind_plan WHERE plan_id = ANY($1::text[])),
    d2 AS (DELETE FROM ind_plan_address WHERE plan_id = ANY($2::text[])),
    i1 AS (INSERT INTO ind_plan (plan_id, patient_id, status, status_since, plan_start, period_end, instantiates, team_ids, goal_count, first_seen, updates)
      SELECT x.plan_id, x.patient_id, x.status, x.status_since, x.plan_start, x.period_end, ARRAY(SELECT jsonb_array_elements_text(x.instantiates)),
        ARRAY(SELECT jsonb_array_elements_text(x.team_ids)), x.goal_count, x.first_seen, ARRAY(SELECT jsonb_array_elements_text(x.updates)::timestamptz)
      FROM ${recordset(3, 'plan_id text, patient_id text, status text, status_since timestamptz, plan_start timestamptz, period_end timestamptz, instantiates jsonb, team_ids jsonb, goal_count integer, first_seen timestamptz, updates jsonb')}
      ON CONFLICT (plan_id) DO UPDATE SET patient_id = EXCLUDED.patient_id, status = EXCLUDED.status,
        status_since = CASE WHEN ind_plan.status = EXCLUDED.status THEN ind_plan.status_since ELSE EXCLUDED.status_since END,
        plan_start = EXCLUDED.plan_start, period_end = EXCLUDED.period_end, instantiates = EXCLUDED.instantiates,
        team_ids = EXCLUDED.team_ids, goal_count = EXCLUDED.goal_count, updates = ind_plan.updates || EXCLUDED.updates),
    i2 AS (INSERT INTO ind_plan_address (plan_id, condition_id) SELECT * FROM ${recordset(4, 'plan_id text, condition_id text')})
    SELECT 1`,
  Condition: `WITH d1 AS (DELETE FROM ind_condition WHERE condition_id = ANY($1::text[])),
    i1 AS (INSERT INTO ind_condition (condition_id, patient_id, clinical, verification, code_keys, recorded, onset, abatement, first_seen)
      SELECT x.condition_id, x.patient_id, x.clinical, x.verification, ARRAY(SELECT jsonb_array_elements_text(x.code_keys)), x.recorded, x.onset, x.abatement, x.first_seen
      FROM ${recordset(2, 'condition_id text, patient_id text, clinical text, verification text, code_keys jsonb, recorded timestamptz, onset timestamptz, abatement timestamptz, first_seen timestamptz')}
      ON CONFLICT (condition_id) DO UPDATE SET patient_id = EXCLUDED.patient_id, clinical = EXCLUDED.clinical, verification = EXCLUDED.verification,
        code_keys = EXCLUDED.code_keys, recorded = EXCLUDED.recorded, onset = EXCLUDED.onset, abatement = EXCLUDED.abatement)
    SELECT 1`,
  Goal: `WITH d1 AS (DELETE FROM ind_goal WHERE goal_id = ANY($1::text[])),
    i1 AS (INSERT INTO ind_goal (goal_id, patient_id, lifecycle, goal_start, expressed_type, expressed_id, first_seen)
      SELECT * FROM ${recordset(2, 'goal_id text, patient_id text, lifecycle text, goal_start timestamptz, expressed_type text, expressed_id text, first_seen timestamptz')}
      ON CONFLICT (goal_id) DO UPDATE SET patient_id = EXCLUDED.patient_id, lifecycle = EXCLUDED.lifecycle, goal_start = EXCLUDED.goal_start,
        expressed_type = EXCLUDED.expressed_type, expressed_id = EXCLUDED.expressed_id)
    SELECT 1`,
  Consent: `WITH d1 AS (DELETE FROM ind_consent WHERE consent_id = ANY($1::text[])),
    i1 AS (INSERT INTO ind_consent (consent_id, patient_id, status, date_time, provision_type, period_start, period_end)
      SELECT * FROM ${recordset(2, 'consent_id text, patient_id text, status text, date_time timestamptz, provision_type text, period_start timestamptz, period_end timestamptz')}
      ON CONFLICT (consent_id) DO UPDATE SET patient_id = EXCLUDED.patient_id, status = EXCLUDED.status, date_time = EXCLUDED.date_time,
        provision_type = EXCLUDED.provision_type, period_start = EXCLUDED.period_start, period_end = EXCLUDED.period_end)
    SELECT 1`,
} as const;

const MAIN_CHILD: Record<string, [keyof ProjectionRows, keyof ProjectionRows | undefined]> = {
  Patient: ['patient', 'residence'],
  CareTeam: ['team', 'member'],
  CarePlan: ['plan', 'address'],
  Condition: ['condition', undefined],
  Goal: ['goal', undefined],
  Consent: ['consent', undefined],
};

/** Writes the rows of `rows` (one statement per type that has any). */
export async function writeRows(tx: SqlExecutor, rows: ProjectionRows): Promise<void> {
  for (const [type, [main, child]] of Object.entries(MAIN_CHILD)) {
    const touched = rows.touched[type];
    if (!touched?.length) continue;
    const removed = rows.removed[type] ?? [];
    const params = child ? [removed, touched, JSON.stringify(rows[main]), JSON.stringify(rows[child])] : [removed, JSON.stringify(rows[main])];
    await tx.query(SQL[type as keyof typeof SQL], params, { prepare: `icr_ind_${type}` });
  }
}

/** Projects a batch of changes in the caller's transaction. */
export async function applyChanges(tx: SqlExecutor, changes: ProjectedChange[], data: MunicipalityData): Promise<void> {
  const rows = emptyRows();
  // The last change of a resource wins (an upsert may not touch a row twice).
  const last = new Map<string, ProjectedChange>();
  for (const c of changes) if (PROJECTED_TYPES.has(c.type)) last.set(`${c.type}/${c.id}`, c);
  for (const c of last.values()) projectResource(c, data, rows);
  await writeRows(tx, rows);
}

/** The store hook: every write of a projected type updates the projection in its transaction. */
export function maintainIndicatorIndex(store: ResourceStore, data: MunicipalityData): void {
  store.onWrite(async (tx, change: Change) => {
    if (!PROJECTED_TYPES.has(change.type)) return;
    await applyChanges(tx, [{ type: change.type, id: change.id, json: change.json, lastUpdated: change.lastUpdated }], data);
  });
}

const REBUILD_BATCH = 2000;

/**
 * Fills the projection from the stored resources: at the first start after migration 004 (the
 * maintenance task), or after a bulk load that bypassed the hook. `from` limits it to resources
 * created after that sequence number (incremental bulk loads).
 */
export async function rebuildIndicatorIndex(exec: SqlExecutor, data: MunicipalityData, options: { fromSeq?: number } = {}): Promise<number> {
  let count = 0;
  for (const type of PROJECTED_TYPES) {
    let cursor = options.fromSeq ?? 0;
    for (;;) {
      // Plans keep the times of all their versions; the other types only when they were first stored.
      const { rows } = await exec.query<{ id: string; seq: number; content: string; last_updated: Date; first_seen: Date | null; versions: Date[] | null }>(
        `SELECT r.id, r.seq, r.content, r.last_updated,
           (SELECT v.last_updated FROM resource_version v WHERE v.res_type = r.res_type AND v.id = r.id AND v.version = 1) AS first_seen,
           CASE WHEN r.res_type = 'CarePlan' THEN ARRAY(SELECT v.last_updated FROM resource_version v WHERE v.res_type = r.res_type AND v.id = r.id AND v.method <> 'DELETE' ORDER BY v.version) END AS versions
         FROM resource r WHERE r.res_type = $1 AND r.seq > $2 AND NOT r.deleted ORDER BY r.seq LIMIT $3`,
        [type, cursor, REBUILD_BATCH],
      );
      if (!rows.length) break;
      await applyChanges(
        exec,
        rows.map((r) => ({ type, id: r.id, json: r.content, lastUpdated: r.last_updated, firstSeen: r.first_seen ?? r.last_updated, versions: r.versions ?? undefined })),
        data,
      );
      count += rows.length;
      cursor = rows[rows.length - 1].seq;
    }
  }
  return count;
}

/** Runs the rebuild once, when migration 004 asked for it (the first start on an existing database). */
export async function rebuildIndicatorIndexIfAsked(store: ResourceStore, data: MunicipalityData): Promise<boolean> {
  return store.db.transaction(async (tx) => {
    const { rows } = await tx.query<{ name: string }>("SELECT name FROM maintenance_task WHERE name = 'rebuild-indicator-index' FOR UPDATE SKIP LOCKED");
    if (!rows.length) return false;
    for (const table of ['ind_patient', 'ind_residence', 'ind_team', 'ind_team_member', 'ind_plan', 'ind_plan_address', 'ind_condition', 'ind_goal', 'ind_consent']) {
      await tx.query(`DELETE FROM ${table}`);
    }
    await rebuildIndicatorIndex(tx, data);
    await tx.query("DELETE FROM maintenance_task WHERE name = 'rebuild-indicator-index'");
    return true;
  });
}
