import { badRequest } from '../fhir/errors.js';
import { regionOf } from '../rules/consortium.js';
import { compileGuideline, type Guideline } from '../rules/guidelines.js';
import type { RulesEngine } from '../rules/index.js';
import { CONSORTIUM_TYPE, str, type Obj } from '../rules/model.js';
import { parseDateRange } from '../search/date-range.js';
import type { Database, SqlExecutor } from '../store/database.js';
import { chronicKeys, disciplineKeys, ROLES } from './codes.js';
import type { IndicatorDef } from './definitions.js';
import { buildStatement, ROLE_BITS, toRows, type AggregateRow, type IndicatorSql, type ParamName } from './sql.js';

/** A registered consortium, with its region resolved against the Statbel data. */
export interface Consortium {
  id: string;
  name: string;
  active: boolean;
  /** NIS codes (data year) of the municipalities of its region. */
  municipalities: string[];
  /** Statbel population of the region, in `populationYear`. */
  population: number;
  populationYear: number;
}

/** A measurement period as asked (FHIR dates) and as instants: [start, end). */
export interface Period {
  start: string;
  end: string;
  from: Date;
  /** The instant after the period. */
  until: Date;
}

/** periodStart and periodEnd as $evaluate-measure takes them: dates whose whole precision counts. */
export function parsePeriod(start: string | undefined, end: string | undefined): Period {
  if (!start) throw badRequest('periodStart is required (a date such as 2024-01-01, 2024-01 or 2024)', 'periodStart');
  if (!end) throw badRequest('periodEnd is required (a date such as 2024-12-31, 2024-12 or 2024)', 'periodEnd');
  const dateOnly = /^\d{4}(-\d{2}(-\d{2})?)?$/;
  const from = dateOnly.test(start) ? parseDateRange(start) : undefined;
  const until = dateOnly.test(end) ? parseDateRange(end) : undefined;
  if (!from) throw badRequest(`periodStart '${start}' is not a date (YYYY, YYYY-MM or YYYY-MM-DD)`, 'periodStart');
  if (!until) throw badRequest(`periodEnd '${end}' is not a date (YYYY, YYYY-MM or YYYY-MM-DD)`, 'periodEnd');
  if (until.hi <= from.lo) throw badRequest(`The period ends (${end}) before it starts (${start})`, 'periodEnd');
  return { start, end, from: from.lo, until: until.hi };
}

const WORK_MEM = '64MB';

/**
 * Settings for one analytical statement, this transaction only: sorts and hashes get the memory they
 * need instead of spilling to disk (the default work_mem of 4 MB is sized for many small queries),
 * and no JIT compilation, which costs more than it saves on a statement this wide that runs once.
 * Row estimates of CTEs are guesses; merge joins on those guesses sort (and spill) whole tables
 * where a hash join would not: every join here is an equality a hash join serves.
 */
export async function analyticalTransaction(tx: SqlExecutor): Promise<void> {
  await tx.query(`SET LOCAL work_mem = '${WORK_MEM}'`);
  await tx.query('SET LOCAL jit = off');
  await tx.query('SET LOCAL enable_mergejoin = off');
}

const isDatabase = (exec: SqlExecutor): exec is Database => typeof (exec as Partial<Database>).transaction === 'function';

const CONSORTIA_SQL = `SELECT r.id, r.content FROM resource r
  WHERE r.res_type = 'Organization' AND NOT r.deleted
    AND r.id IN (SELECT t.res_id FROM idx_token t WHERE t.res_type = 'Organization' AND t.param = 'type' AND t.code = $1 AND t.system = $2)
  ORDER BY r.id`;

/** Computes the indicators: the consortia and guidelines from the store, the figures in one SQL statement. */
/**
 * Two statements of about the same weight: those that read the care-team members (the team
 * indicators and the guideline one), and the others.
 */
function splitByFamily(indicators: IndicatorSql[]): IndicatorSql[][] {
  const members = (i: IndicatorSql) => i.family === 'fam_team' || i.family === 'fam_guideline';
  return [indicators.filter((i) => !members(i)), indicators.filter(members)].filter((g) => g.length);
}

export interface EngineOptions {
  /**
   * How many evaluations at a time may run as two statements side by side on PostgreSQL (two
   * pool connections, one snapshot; about 1.4 times as fast on two cores); 0 (default): none. An
   * evaluation holds its first connection while it waits for the second, so this must stay well
   * below the pool size: beyond it, evaluations run as one statement.
   */
  parallel?: number;
}

export class IndicatorEngine {
  private parallelRunning = 0;

  constructor(
    private readonly rules: RulesEngine,
    private readonly options: EngineOptions = {},
  ) {}

  /** The registered consortia (Organizations of type orgconsortium): few, read whole. */
  async consortia(exec: SqlExecutor): Promise<Consortium[]> {
    const { rows } = await exec.query<{ id: string; content: string }>(CONSORTIA_SQL, [CONSORTIUM_TYPE.code, CONSORTIUM_TYPE.system], { prepare: 'icr_ind_consortia' });
    return rows.map((row) => {
      const org = JSON.parse(row.content) as Obj;
      const parts = [...regionOf(org, this.rules.data).parts].sort();
      return {
        id: row.id,
        name: str(org.name) ?? `Organization/${row.id}`,
        active: org.active !== false,
        municipalities: parts,
        population: this.rules.data.population(parts),
        populationYear: this.rules.data.year,
      };
    });
  }

  /** The guidelines: stored PlanDefinitions, and those of profiles/ whose url no stored one has. */
  async guidelines(exec: SqlExecutor): Promise<Guideline[]> {
    const { rows } = await exec.query<{ content: string }>("SELECT content FROM resource WHERE res_type = 'PlanDefinition' AND NOT deleted");
    const stored = rows.map((r) => compileGuideline(JSON.parse(r.content) as Obj));
    const urls = new Set(stored.map((g) => g.url));
    return [...stored, ...this.rules.guidelines.filter((g) => !urls.has(g.url))];
  }

  /**
   * The aggregate rows of the indicators for the consortia and period: per indicator and
   * consortium, the totals and one row per stratum that has units.
   */
  async evaluate(exec: SqlExecutor, indicators: IndicatorDef[], consortia: Consortium[], allConsortia: Consortium[], period: Period): Promise<AggregateRow[]> {
    if (!indicators.length || !consortia.length) return [];
    const guidelines = await this.guidelines(exec);
    // A plan names a guideline as url|version or url: both keys lead to its requirements (for a
    // bare url, the guideline listed first: the stored one). Each required role key gets a bit; a
    // guideline's mask is the bits of the roles it requires.
    const requirements = new Map<string, string[]>();
    for (const g of guidelines) {
      for (const key of g.version ? [`${g.url}|${g.version}`, g.url] : [g.url]) {
        if (!requirements.has(key)) requirements.set(key, g.disciplines.filter((d) => d.required).map((d) => d.key));
      }
    }
    const roleBit = new Map<string, bigint>();
    for (const keys of requirements.values()) for (const k of keys) if (!roleBit.has(k)) roleBit.set(k, 1n << BigInt(roleBit.size));
    if (roleBit.size > 63) throw new Error('the guidelines require more than 63 distinct roles: widen the guideline masks in sql.ts');
    const masks = [...requirements].map(([canonical, keys]) => [canonical, keys.reduce((m, k) => m | roleBit.get(k)!, 0n)] as const);
    const focus = guidelines.flatMap((g) => [...g.focus]);
    const regCid: string[] = [];
    const regNis: string[] = [];
    for (const c of consortia) for (const nis of c.municipalities) {
      regCid.push(c.id);
      regNis.push(nis);
    }
    // Each role key with the bits of the classes it belongs to (a key may be in several), and each
    // discipline (every CD-HCPARTY person code but the informal caregiver) with a bit of its own.
    const classes = new Map<string, { bit: number; d1: bigint; d2: bigint; g: bigint }>();
    const entry = (k: string) => classes.get(k) ?? classes.set(k, { bit: 0, d1: 0n, d2: 0n, g: 0n }).get(k)!;
    for (const [name, keys] of Object.entries(ROLES)) for (const k of keys) entry(k).bit |= ROLE_BITS[name as keyof typeof ROLE_BITS];
    disciplineKeys().forEach((k, i) => {
      if (i < 63) entry(k).d1 = 1n << BigInt(i);
      else if (i < 126) entry(k).d2 = 1n << BigInt(i - 63);
      else throw new Error('more than 126 disciplines: widen the masks in sql.ts');
    });
    for (const [k, bit] of roleBit) entry(k).g = bit;
    const roleClasses = [...classes];
    const values: Record<ParamName, unknown> = {
      ps: period.from.toISOString(),
      pe: period.until.toISOString(),
      cids: consortia.map((c) => c.id),
      all_cids: allConsortia.map((c) => c.id),
      reg_cid: regCid,
      reg_nis: regNis,
      chronic: chronicKeys(focus),
      class_key: roleClasses.map((c) => c[0]),
      class_bit: roleClasses.map((c) => c[1].bit),
      class_d1: roleClasses.map((c) => c[1].d1.toString()),
      class_d2: roleClasses.map((c) => c[1].d2.toString()),
      class_g: roleClasses.map((c) => c[1].g.toString()),
      g_known: masks.map((m) => m[0]),
      g_mask: masks.map((m) => m[1].toString()),
    };
    // Two statements when the database can run them side by side (PostgreSQL with a pool): the
    // care-team indicators, and the others. They read one snapshot (exported by the first
    // transaction, imported by the second), so the figures are as consistent as one statement's.
    const sqlIndicators = indicators.map((i) => ({ id: i.id, ...i.sql }));
    const parallel = isDatabase(exec) && exec.kind === 'postgres' && this.parallelRunning < (this.options.parallel ?? 0);
    const groups = parallel ? splitByFamily(sqlIndicators) : [sqlIndicators];
    const statements = groups.map((g) => buildStatement(g, values));
    const run = async (tx: SqlExecutor, statement: { text: string; params: unknown[] }) => {
      await analyticalTransaction(tx);
      return (await tx.query<Omit<AggregateRow, 'median'>>(statement.text, statement.params)).rows;
    };
    if (!isDatabase(exec)) return toRows(await run(exec, statements[0]));
    if (statements.length === 1) return toRows(await exec.transaction((tx) => run(tx, statements[0])));
    this.parallelRunning++;
    try {
      return await this.side(exec, statements, run);
    } finally {
      this.parallelRunning--;
    }
  }

  /** The statements side by side, each on a connection of its own, all on the first one's snapshot. */
  private side(
    exec: Database,
    statements: { text: string; params: unknown[] }[],
    run: (tx: SqlExecutor, statement: { text: string; params: unknown[] }) => Promise<Omit<AggregateRow, 'median'>[]>,
  ): Promise<AggregateRow[]> {
    return exec.transaction(async (tx) => {
      await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const { rows } = await tx.query<{ snapshot: string }>('SELECT pg_export_snapshot() AS snapshot');
      const snapshot = rows[0].snapshot;
      if (!/^[0-9A-Fa-f-]+$/.test(snapshot)) throw new Error(`unexpected snapshot id ${snapshot}`);
      const others = statements.slice(1).map((statement) =>
        exec.transaction(async (tx2) => {
          await tx2.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
          await tx2.query(`SET TRANSACTION SNAPSHOT '${snapshot}'`);
          return run(tx2, statement);
        }),
      );
      const first = await run(tx, statements[0]);
      return toRows([...first, ...(await Promise.all(others)).flat()]);
    });
  }
}
