import { FhirError, forbidden, issue, operationOutcome } from '../fhir/errors.js';
import { patientCompartmentParams } from '../fhir/compartments.js';
import type { AccessPolicy, Interaction } from '../interactions/access-policy.js';
import type { Principal, RequestContext } from '../interactions/context.js';
import type { SearchParameterRegistry } from '../search/parameters.js';
import type { AnyCriterion, CustomCriterion } from '../search/search-request.js';
import { SqlParams } from '../search/search-sql.js';
import type { SqlExecutor } from '../store/database.js';
import type { StoredResource } from '../store/resource-store.js';
import { grants, parseScopes, type Permission, type ResourceScope } from './scopes.js';
import { REALM } from './token-verifier.js';

type Obj = Record<string, unknown>;

/** Types that are not anyone's health data: the directory of care providers, the guidelines and the indicators' Measures. */
const DIRECTORY_TYPES = new Set(['Practitioner', 'PractitionerRole', 'Organization', 'OrganizationAffiliation', 'PlanDefinition', 'Measure']);

/** Who the caller is to the record, for one type and permission. */
type Access =
  | { kind: 'all' }
  /** Only resources of these patients (computed once per question, in one prepared query). */
  | { kind: 'patients'; patients: (exec: SqlExecutor, type: string) => Promise<string[]> };

const PERMISSIONS: Record<Interaction, Permission[]> = {
  read: ['r'],
  vread: ['r'],
  search: ['s'],
  history: ['r', 's'],
  create: ['c'],
  update: ['u'],
  patch: ['u'],
  delete: ['d'],
  operation: ['r', 's'],
};

const WORDS: Record<Permission, string> = { c: 'create', r: 'read', u: 'update', d: 'delete', s: 'search' };

function insufficientScope(type: string, permissions: Permission[]): FhirError {
  const needed = permissions.map((p) => `system/${type}.${p} or user/${type}.${p}`).join(', or ');
  const text = `This token does not allow to ${permissions.map((p) => WORDS[p]).join(' or ')} ${type} resources: a scope such as ${needed} is needed`;
  return new FhirError(403, operationOutcome([issue('error', 'forbidden', text)]), {
    'WWW-Authenticate': `Bearer realm="${REALM}", error="insufficient_scope", scope="${permissions.map((p) => `system/${type}.${p}`).join(' ')}"`,
  });
}

/**
 * Patients whose active care team holds the user now (participant period), directly or through
 * what stands for them (user_member: a practitioner's active roles and their organisations, a
 * role's practitioner and organisation), minus those whose active consent denies any of these for
 * this resource type. One prepared statement: the access check costs one short query.
 */
const ALLOWED_PATIENTS = `WITH members AS (
    SELECT $1::text AS t, $2::text AS i
    UNION ALL SELECT member_type, member_id FROM user_member WHERE user_ref = $3),
  cand AS (SELECT m.patient_id, m.team_active, m.period_start, m.period_end FROM care_team_member m
    WHERE (m.member_type, m.member_id) IN (SELECT t, i FROM members)),
  den AS (SELECT d.patient_id, d.period_start, d.period_end FROM consent_denial d
    WHERE (d.actor_type, d.actor_id) IN (SELECT t, i FROM members) AND (d.resource_types IS NULL OR $4 = ANY(d.resource_types)))
  SELECT
    ARRAY(SELECT DISTINCT c.patient_id FROM cand c
      WHERE c.team_active AND (c.period_start IS NULL OR c.period_start <= now()) AND (c.period_end IS NULL OR c.period_end > now())
        AND NOT EXISTS (SELECT 1 FROM den d WHERE d.patient_id = c.patient_id
          AND (d.period_start IS NULL OR d.period_start <= now()) AND (d.period_end IS NULL OR d.period_end > now()))) AS ids,
    (SELECT min(b) FROM (SELECT period_start AS b FROM cand UNION ALL SELECT period_end FROM cand
      UNION ALL SELECT period_start FROM den UNION ALL SELECT period_end FROM den) x WHERE b > now()) AS next_change`;

/**
 * The allowed patients of each user and type, kept until something changes them: a CareTeam,
 * Consent or PractitionerRole commit (here, or in another replica: NOTIFY icr_access), or the
 * next participant or consent period boundary. So leaving a care team ends access at the commit,
 * and a practitioner's requests cost what a system's do.
 */
export class AllowedPatientsCache {
  private generation = 0;
  private readonly entries = new Map<string, { generation: number; until: number; ids: Promise<string[]> }>();

  invalidate(): void {
    this.generation++;
    this.entries.clear();
  }

  get(key: string, compute: () => Promise<{ ids: string[]; nextChange: Date | null }>): Promise<string[]> {
    const hit = this.entries.get(key);
    if (hit && hit.generation === this.generation && Date.now() < hit.until) return hit.ids;
    const generation = this.generation;
    const entry = { generation, until: Infinity, ids: Promise.resolve([] as string[]) };
    entry.ids = compute().then(
      ({ ids, nextChange }) => {
        entry.until = nextChange ? nextChange.getTime() : Infinity;
        return ids;
      },
      (err: unknown) => {
        this.entries.delete(key);
        throw err;
      },
    );
    if (this.entries.size >= 10_000) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, entry);
    return entry.ids;
  }
}

const MEMBER_TYPES = new Set(['Practitioner', 'PractitionerRole', 'RelatedPerson']);

function careTeamPatients(fhirUser: string, db: SqlExecutor, cache: AllowedPatientsCache): Access | undefined {
  const [memberType, memberId] = fhirUser.split('/');
  if (!MEMBER_TYPES.has(memberType)) return undefined;
  const compute = async (exec: SqlExecutor, type: string) => {
    const { rows } = await exec.query<{ ids: string[]; next_change: Date | null }>(ALLOWED_PATIENTS, [memberType, memberId, fhirUser, type], {
      prepare: 'icr_allowed_patients',
    });
    return { ids: rows[0].ids, nextChange: rows[0].next_change };
  };
  return {
    kind: 'patients',
    // Inside a transaction the caller may have changed care teams itself: no cache there.
    patients: async (exec, type) => (exec === db ? cache.get(`${fhirUser}|${type}`, () => compute(exec, type)) : (await compute(exec, type)).ids),
  };
}

const onePatient = (id: string): Access => ({ kind: 'patients', patients: async () => [id] });

/**
 * Who may see and change what: system tokens by their scopes; practitioners, their roles and
 * informal caregivers only the patients whose active care team includes them (and whose consent
 * does not deny them); patients their own compartment. Restrictions become SQL inside each query,
 * so searches, includes, history and bundles never return what the caller may not see.
 */
export class CareTeamPolicy implements AccessPolicy {
  readonly cache = new AllowedPatientsCache();

  constructor(
    private readonly registry: SearchParameterRegistry,
    private readonly db: SqlExecutor,
  ) {}

  private scopes(principal: Principal): ResourceScope[] {
    return parseScopes(principal.scopes);
  }

  /** The access a caller has to a type for one of the permissions; throws 403 when none. */
  access(ctx: RequestContext, type: string, permissions: Permission[]): Access {
    const { principal } = ctx;
    const granted = permissions.flatMap((p) => grants(this.scopes(principal), type, p));
    if (!granted.length) throw insufficientScope(type, permissions);
    const patientData = !DIRECTORY_TYPES.has(type);
    if (patientData && principal.roles.includes('evaluation') && !principal.roles.includes('admin')) {
      throw forbidden('Evaluation tokens cannot read or change identified patient data; use the pseudonymised export ($export) and the indicators');
    }
    if (!patientData) return { kind: 'all' };
    const contexts = new Set(granted.map((g) => g.context));
    if (contexts.has('system') || principal.roles.includes('admin')) return { kind: 'all' };
    if (contexts.has('user') && principal.fhirUser) {
      if (principal.fhirUser.startsWith('Patient/')) return onePatient(principal.fhirUser.slice(8));
      if (type === 'AuditEvent') throw forbidden('The audit trail is open to administrators, and to each patient for their own record');
      const viaTeams = careTeamPatients(principal.fhirUser, this.db, this.cache);
      if (viaTeams) return viaTeams;
    }
    if (contexts.has('patient') && principal.patient) return onePatient(principal.patient);
    throw forbidden(`This token gives no access to patient data: it names no patient and no practitioner, role or related person (fhirUser)`);
  }

  private async criterion(access: Access, type: string, exec: SqlExecutor, readId?: string): Promise<CustomCriterion | undefined> {
    if (access.kind === 'all') return undefined;
    const ids = await access.patients(exec, type);
    // A Patient read by id is decided here: no list of allowed ids to send and parse.
    if (type === 'Patient' && readId !== undefined) return ids.includes(readId) ? undefined : { kind: 'custom', sql: () => 'false' };
    // The allowed ids go in as a sub-select: the planner then takes the array as one opaque value
    // instead of estimating the selectivity of each of its (hundreds of) elements, which made
    // planning cost ten times the execution of a typical restricted search.
    const allowed = (sql: SqlParams) => `ANY(COALESCE((SELECT ${sql.p(ids)}::text[]), ARRAY[]::text[]))`;
    if (type === 'Patient') {
      // With criteria of its own (Patient?family=), the query starts from their matches and this
      // is a filter on them: IS TRUE keeps the planner from also using the list as an index
      // condition, which costs one index descent per allowed id for every match. Without criteria
      // the allowed ids are what the query starts from.
      return { kind: 'custom', sql: (sql, _t, idExpr, ctx) => (ctx?.narrowed || ctx?.criteria ? `(${idExpr} = ${allowed(sql)}) IS TRUE` : `${idExpr} = ${allowed(sql)}`) };
    }
    const params = patientCompartmentParams(type);
    return {
      kind: 'custom',
      sql: (sql, t, idExpr, ctx) => {
        const a = sql.nextAlias('acc');
        // When the query already narrows to a few rows (CarePlan?patient=, a read by id), OFFSET 0
        // keeps this check a per-row sub-plan. Without it the planner may start from the allowed
        // patients' references instead, which it cannot estimate: after a burst of writes (audit
        // events) made its statistics stale, that plan made such searches 3x slower.
        return `EXISTS (SELECT 1 FROM idx_reference ${a} WHERE ${a}.res_type = ${sql.p(t)} AND ${a}.res_id = ${idExpr}
          AND ${a}.param = ANY(${sql.p(params)}::text[]) AND ${a}.target_type = 'Patient' AND ${a}.target_id = ${allowed(sql)}${ctx?.narrowed ? ' OFFSET 0' : ''})`;
      },
    };
  }

  async checkInteraction(ctx: RequestContext, interaction: Interaction, type: string | undefined): Promise<void> {
    if (type === 'AuditEvent' && (interaction === 'update' || interaction === 'patch' || interaction === 'delete')) {
      throw new FhirError(405, operationOutcome([issue('error', 'not-supported', 'Audit events cannot be changed or deleted: the audit trail only grows')]));
    }
    this.access(ctx, type ?? '*', PERMISSIONS[interaction]);
  }

  async searchRestrictions(ctx: RequestContext, type: string, exec: SqlExecutor = this.db): Promise<AnyCriterion[]> {
    const c = await this.criterion(this.access(ctx, type, ['s', 'r']), type, exec);
    return c ? [c] : [];
  }

  async readRestrictions(ctx: RequestContext, type: string, exec: SqlExecutor = this.db, id?: string): Promise<AnyCriterion[]> {
    const c = await this.criterion(this.access(ctx, type, ['r']), type, exec, id);
    return c ? [c] : [];
  }

  async visible(ctx: RequestContext, resources: StoredResource[], exec: SqlExecutor = this.db): Promise<StoredResource[]> {
    const byType = new Map<string, StoredResource[]>();
    for (const r of resources) byType.set(r.type, [...(byType.get(r.type) ?? []), r]);
    const keep = new Set<string>();
    for (const [type, list] of byType) {
      let access: Access;
      try {
        access = this.access(ctx, type, ['r', 's']);
      } catch {
        continue;
      }
      const criterion = await this.criterion(access, type, exec);
      if (!criterion) {
        for (const r of list) keep.add(`${r.type}/${r.id}`);
        continue;
      }
      const sql = new SqlParams();
      const text = `SELECT r.id FROM resource r WHERE r.res_type = ${sql.p(type)} AND r.id = ANY(${sql.p(list.map((r) => r.id))}::text[]) AND ${criterion.sql(sql, type, 'r.id', { narrowed: true })}`;
      const { rows } = await exec.query<{ id: string }>(text, sql.values);
      for (const row of rows) keep.add(`${type}/${row.id}`);
    }
    return resources.filter((r) => keep.has(`${r.type}/${r.id}`));
  }

  async checkWrite(ctx: RequestContext, type: string, resource: Obj | undefined, current: StoredResource | undefined, exec: SqlExecutor = this.db): Promise<void> {
    const permission: Permission = !resource ? 'd' : current ? 'u' : 'c';
    const access = this.access(ctx, type, [permission]);
    if (access.kind === 'all') return;
    const content = resource ?? (current?.json ? (JSON.parse(current.json) as Obj) : undefined);
    const patients = content ? this.patientsOf(type, content) : [];
    if (!patients.length) throw forbidden(`This token may only change ${type} resources of the patients it gives access to, and this one names none`);
    const allowed = new Set(await access.patients(exec, type));
    if (!patients.every((p) => allowed.has(p))) {
      throw forbidden(`This token may only change ${type} resources of the patients whose care it takes part in`);
    }
  }

  /** The patients a resource belongs to, from its patient-compartment references. */
  private patientsOf(type: string, resource: Obj): string[] {
    if (type === 'Patient') return typeof resource.id === 'string' ? [resource.id] : [];
    const ids = new Set<string>();
    for (const code of patientCompartmentParams(type)) {
      const def = this.registry.get(type, code);
      for (const v of def?.extract(resource) ?? []) {
        const ref = (v as { reference?: unknown }).reference;
        if (typeof ref === 'string' && ref.startsWith('Patient/')) ids.add(ref.slice(8));
      }
    }
    return [...ids];
  }
}
