import { parseDateRange, sqlTimestamp } from '../search/date-range.js';
import type { SqlExecutor } from '../store/database.js';
import type { Change, ResourceStore } from '../store/resource-store.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function ref(v: unknown): { type: string; id: string } | undefined {
  const r = isObj(v) && typeof v.reference === 'string' ? /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(v.reference) : null;
  return r ? { type: r[1], id: r[2] } : undefined;
}

function bound(period: unknown, side: 'start' | 'end'): string | null {
  if (!isObj(period) || typeof period[side] !== 'string') return null;
  const r = parseDateRange(period[side] as string);
  if (!r) return null;
  return sqlTimestamp(side === 'start' ? r.lo : r.hi);
}

const later = (a: string | null, b: string | null) => (a === null ? b : b === null ? a : a > b ? a : b);
const earlier = (a: string | null, b: string | null) => (a === null ? b : b === null ? a : a < b ? a : b);

/** Rows of care_team_member for one CareTeam: each participant, with the period it counts for. */
export function careTeamRows(team: Obj): unknown[][] {
  const patient = ref(team.subject);
  if (!patient || patient.type !== 'Patient') return [];
  const active = team.status === 'active';
  const teamStart = bound(team.period, 'start');
  const teamEnd = bound(team.period, 'end');
  const rows: unknown[][] = [];
  for (const p of arr(team.participant)) {
    if (!isObj(p)) continue;
    const member = ref(p.member);
    if (!member) continue;
    rows.push([team.id, patient.id, member.type, member.id, active, later(teamStart, bound(p.period, 'start')), earlier(teamEnd, bound(p.period, 'end'))]);
  }
  return rows;
}

/**
 * Rows of consent_denial for one Consent: the actors that an active consent denies, with the
 * resource types (provision.class) and the period it applies to. Nested provisions are exceptions
 * to their parent: one without a type of its own denies when its parent permits.
 */
export function consentRows(consent: Obj): unknown[][] {
  const patient = ref(consent.patient);
  if (!patient || patient.type !== 'Patient' || consent.status !== 'active') return [];
  const rows: unknown[][] = [];
  const walk = (provision: unknown, parentType: string | undefined, start: string | null, end: string | null) => {
    if (!isObj(provision)) return;
    const type = typeof provision.type === 'string' ? provision.type : parentType === 'permit' ? 'deny' : parentType === 'deny' ? 'permit' : undefined;
    const s = later(start, bound(provision.period, 'start'));
    const e = earlier(end, bound(provision.period, 'end'));
    if (type === 'deny') {
      const types = arr(provision.class)
        .filter(isObj)
        .map((c) => c.code)
        .filter((c): c is string => typeof c === 'string');
      for (const actor of arr(provision.actor)) {
        const who = isObj(actor) ? ref(actor.reference) : undefined;
        if (who) rows.push([consent.id, patient.id, who.type, who.id, types.length ? types : null, s, e]);
      }
    }
    for (const child of arr(provision.provision)) walk(child, type, s, e);
  };
  walk(consent.provision, undefined, null, null);
  return rows;
}

/** Rows of user_member for one PractitionerRole (none when it is inactive). */
export function roleRows(role: Obj): unknown[][] {
  if (role.active === false) return [];
  const practitioner = ref(role.practitioner);
  const organization = ref(role.organization);
  const rows: unknown[][] = [];
  const self = `PractitionerRole/${String(role.id)}`;
  if (practitioner?.type === 'Practitioner') {
    rows.push([role.id, `Practitioner/${practitioner.id}`, 'PractitionerRole', role.id]);
    rows.push([role.id, self, 'Practitioner', practitioner.id]);
  }
  if (organization?.type === 'Organization') {
    if (practitioner?.type === 'Practitioner') rows.push([role.id, `Practitioner/${practitioner.id}`, 'Organization', organization.id]);
    rows.push([role.id, self, 'Organization', organization.id]);
  }
  return rows;
}

const INSERT_USER_MEMBERS = `INSERT INTO user_member (role_id, user_ref, member_type, member_id)
  SELECT x->>0, x->>1, x->>2, x->>3 FROM jsonb_array_elements($1::jsonb) x`;

const INSERT_MEMBERS = `INSERT INTO care_team_member (team_id, patient_id, member_type, member_id, team_active, period_start, period_end)
  SELECT x->>0, x->>1, x->>2, x->>3, (x->>4)::boolean, (x->>5)::timestamptz, (x->>6)::timestamptz FROM jsonb_array_elements($1::jsonb) x`;
const INSERT_DENIALS = `INSERT INTO consent_denial (consent_id, patient_id, actor_type, actor_id, resource_types, period_start, period_end)
  SELECT x->>0, x->>1, x->>2, x->>3, CASE WHEN x->4 = 'null'::jsonb THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(x->4)) END, (x->>5)::timestamptz, (x->>6)::timestamptz
  FROM jsonb_array_elements($1::jsonb) x`;

async function applyChange(tx: SqlExecutor, change: Pick<Change, 'type' | 'id' | 'json'>): Promise<void> {
  if (change.type === 'CareTeam') {
    await tx.query('DELETE FROM care_team_member WHERE team_id = $1', [change.id], { prepare: 'icr_ctm_delete' });
    const rows = change.json ? careTeamRows(JSON.parse(change.json) as Obj) : [];
    if (rows.length) await tx.query(INSERT_MEMBERS, [JSON.stringify(rows)], { prepare: 'icr_ctm_insert' });
  } else if (change.type === 'PractitionerRole') {
    await tx.query('DELETE FROM user_member WHERE role_id = $1', [change.id]);
    const rows = change.json ? roleRows(JSON.parse(change.json) as Obj) : [];
    if (rows.length) await tx.query(INSERT_USER_MEMBERS, [JSON.stringify(rows)]);
  } else if (change.type === 'Consent') {
    await tx.query('DELETE FROM consent_denial WHERE consent_id = $1', [change.id]);
    const rows = change.json ? consentRows(JSON.parse(change.json) as Obj) : [];
    if (rows.length) await tx.query(INSERT_DENIALS, [JSON.stringify(rows)]);
  }
}

const ACCESS_TYPES = new Set(['CareTeam', 'Consent', 'PractitionerRole']);
export const ACCESS_CHANNEL = 'icr_access';

/**
 * Keeps the access tables in step with CareTeam, Consent and PractitionerRole writes, in the same
 * transaction, and tells every replica (NOTIFY, delivered at commit) to forget what it cached.
 */
export async function maintainAccessIndex(store: ResourceStore, onChange: () => void): Promise<() => Promise<void>> {
  store.onWrite(async (tx, change) => {
    if (!ACCESS_TYPES.has(change.type)) return;
    await applyChange(tx, change);
    await tx.query(`SELECT pg_notify('${ACCESS_CHANNEL}', '')`);
  });
  store.onCommit((changes) => {
    if (changes.some((c) => ACCESS_TYPES.has(c.type))) onChange();
  });
  return store.db.listen(ACCESS_CHANNEL, onChange);
}

/** Fills the access tables from the stored resources, once, when a migration asked for it. */
export async function rebuildAccessIndexIfAsked(store: ResourceStore): Promise<boolean> {
  return store.db.transaction(async (tx) => {
    const { rows } = await tx.query<{ name: string }>("SELECT name FROM maintenance_task WHERE name = 'rebuild-access-index' FOR UPDATE SKIP LOCKED");
    if (!rows.length) return false;
    await tx.query('DELETE FROM care_team_member');
    await tx.query('DELETE FROM consent_denial');
    await tx.query('DELETE FROM user_member');
    const { rows: resources } = await tx.query<{ res_type: string; id: string; content: string }>(
      "SELECT res_type, id, content FROM resource WHERE res_type IN ('CareTeam', 'Consent', 'PractitionerRole') AND NOT deleted",
    );
    for (const r of resources) await applyChange(tx, { type: r.res_type, id: r.id, json: r.content });
    await tx.query("DELETE FROM maintenance_task WHERE name = 'rebuild-access-index'");
    return true;
  });
}
