/**
 * The SQL of the indicators: named common table expressions over the projection (migration 004)
 * and the search index, and one statement per evaluation that aggregates every indicator asked
 * for, by consortium and by age band, sex and number of chronic conditions, with GROUPING SETS.
 * Placeholders {name} become bind parameters; nothing from a request is spliced into SQL.
 *
 * The shape that makes it fast (bench/indicators): the facts are summed once per patient in a few
 * "families" (the patient, their care teams, plans, goals, conditions), every aggregate is a hash
 * aggregate (no count(DISTINCT), no sorts per group), and each indicator is one GROUPING SETS pass
 * over the per-patient rows of its family.
 */

/** Bind parameters: name -> SQL type. */
export const PARAMS = {
  /** First instant of the period. */
  ps: 'timestamptz',
  /** The instant after the period (exclusive end). */
  pe: 'timestamptz',
  /** The consortia reported on. */
  cids: 'text[]',
  /** Every registered consortium (a care team managed by any of them places its patient there). */
  all_cids: 'text[]',
  /** Region of the consortia reported on: parallel arrays (consortium, NIS code). */
  reg_cid: 'text[]',
  reg_nis: 'text[]',
  /** system|code of the conditions that are chronic. */
  chronic: 'text[]',
  /**
   * Role classes: parallel arrays (system|code role key, bits): gp 1, nurse 2, pharmacist 4,
   * physiotherapist 8, coordinator 16, caregiver 32.
   */
  class_key: 'text[]',
  class_bit: 'int[]',
  /** Each discipline's own bit, over two 63-bit masks (so a team's disciplines are a bit_or and a bit count). */
  class_d1: 'bigint[]',
  class_d2: 'bigint[]',
  /** Role keys that some guideline requires get a bit of their own (g, with the role classes). */
  class_g: 'bigint[]',
  /** Every known guideline canonical with the mask of the role keys it requires (parallel arrays). */
  g_known: 'text[]',
  g_mask: 'bigint[]',
} as const;

export type ParamName = keyof typeof PARAMS;

export const ROLE_BITS = { gp: 1, nurse: 2, pharmacist: 4, physio: 8, coordinator: 16, caregiver: 32 } as const;

const PLAN_IN_FORCE = `('active', 'on-hold', 'completed', 'revoked')`;
/** A care team (alias t) that is in force at some time in the period. */
const TEAM_IN_FORCE = `t.status IN ('active', 'suspended', 'inactive') AND (t.period_start IS NULL OR t.period_start < {pe})
        AND COALESCE(t.period_end, CASE WHEN t.status = 'inactive' THEN t.status_since END, 'infinity') > {ps}`;
/** A member (alias m) taking part at some time in the period. */
const MEMBER_IN_PERIOD = `(m.period_start IS NULL OR m.period_start < {pe}) AND (m.period_end IS NULL OR m.period_end > {ps})`;

/**
 * The building blocks. `pat` is the heart: which patients belong to which consortium for the
 * period (docs/evaluation.md, "Who counts for a consortium"), with their age band on the last day
 * of the period, their sex and their number of chronic conditions in the period (the strata).
 */
export const CTES: Record<string, { deps: string[]; sql: string }> = {
  team_p: {
    deps: [],
    sql: `SELECT t.team_id, t.patient_id, t.managing FROM ind_team t WHERE ${TEAM_IN_FORCE}`,
  },
  managed: {
    deps: ['team_p'],
    sql: `SELECT DISTINCT t.patient_id, m.cid FROM team_p t CROSS JOIN LATERAL unnest(t.managing) AS m(cid)
      WHERE t.managing && {all_cids} AND m.cid = ANY({all_cids})`,
  },
  residence: {
    deps: [],
    sql: `SELECT DISTINCT ON (r.patient_id) r.patient_id, r.nis FROM ind_residence r
      WHERE (r.period_start IS NULL OR r.period_start < {pe}) AND (r.period_end IS NULL OR r.period_end >= {pe})
      ORDER BY r.patient_id, r.rank, r.period_start DESC NULLS LAST`,
  },
  region: {
    deps: [],
    sql: `SELECT g.cid, g.nis FROM unnest({reg_cid}, {reg_nis}) AS g(cid, nis)`,
  },
  chronic_code: {
    deps: [],
    sql: `SELECT DISTINCT k.key FROM unnest({chronic}) AS k(key)`,
  },
  chronic_any: {
    // Conditions (not refuted) with a chronic code: a hash join on the codes, not an array test per row.
    deps: ['chronic_code'],
    sql: `SELECT DISTINCT c.condition_id, c.patient_id, c.clinical, c.onset, c.recorded, c.abatement, c.first_seen
      FROM ind_condition c CROSS JOIN LATERAL unnest(c.code_keys) AS k(key) JOIN chronic_code ch ON ch.key = k.key
      WHERE COALESCE(c.verification, '') NOT IN ('refuted', 'entered-in-error')`,
  },
  chronic_c: {
    deps: ['chronic_any'],
    // Present in the period: begun before its end, not abated before its start, and active (or with an abatement date).
    sql: `SELECT c.condition_id, c.patient_id FROM chronic_any c
      WHERE COALESCE(c.onset, c.recorded, c.first_seen) < {pe}
        AND (c.abatement IS NULL OR c.abatement > {ps})
        AND (c.clinical IN ('active', 'recurrence', 'relapse') OR c.abatement IS NOT NULL)`,
  },
  chronic_n: {
    deps: ['chronic_c'],
    sql: `SELECT patient_id, count(*)::int AS n FROM chronic_c GROUP BY patient_id`,
  },
  pat: {
    deps: ['managed', 'residence', 'region', 'chronic_n'],
    sql: `SELECT pc.cid, pc.patient_id,
        CASE WHEN p.birth_date IS NULL THEN 'unknown'
          WHEN p.birth_date > (({pe} - interval '1 microsecond') AT TIME ZONE 'UTC' - interval '18 years')::date THEN '0-17'
          WHEN p.birth_date > (({pe} - interval '1 microsecond') AT TIME ZONE 'UTC' - interval '45 years')::date THEN '18-44'
          WHEN p.birth_date > (({pe} - interval '1 microsecond') AT TIME ZONE 'UTC' - interval '65 years')::date THEN '45-64'
          WHEN p.birth_date > (({pe} - interval '1 microsecond') AT TIME ZONE 'UTC' - interval '75 years')::date THEN '65-74'
          WHEN p.birth_date > (({pe} - interval '1 microsecond') AT TIME ZONE 'UTC' - interval '85 years')::date THEN '75-84'
          ELSE '85+' END AS age_band,
        COALESCE(p.gender, 'unknown') AS sex,
        COALESCE(n.n, 0) AS chronic,
        CASE WHEN COALESCE(n.n, 0) >= 4 THEN '4+' ELSE COALESCE(n.n, 0)::text END AS xs
      FROM (SELECT m.patient_id, m.cid FROM managed m WHERE m.cid = ANY({cids})
            UNION
            SELECT r.patient_id, g.cid FROM residence r JOIN region g ON g.nis = r.nis
            WHERE NOT EXISTS (SELECT 1 FROM managed m WHERE m.patient_id = r.patient_id)) pc
      JOIN ind_patient p ON p.patient_id = pc.patient_id
      LEFT JOIN chronic_n n ON n.patient_id = pc.patient_id`,
  },
  plan_p: {
    deps: [],
    sql: `SELECT x.* FROM (SELECT pl.plan_id, pl.patient_id, COALESCE(pl.plan_start, pl.first_seen) AS plan_start,
          COALESCE(pl.period_end, CASE WHEN pl.status IN ('completed', 'revoked') THEN pl.status_since END, 'infinity') AS plan_end,
          pl.team_ids, pl.goal_count, pl.instantiates
        FROM ind_plan pl WHERE pl.status IN ${PLAN_IN_FORCE}) x
      WHERE x.plan_start < {pe} AND x.plan_end > {ps}`,
  },
  member_p: {
    deps: [],
    // Role keys of each member of a team in force, during the period: the participant's roles, the
    // codes of a PractitionerRole member and the relationship of a RelatedPerson member (search
    // index); and whether the member is the team's patient. Kept narrow: it is read twice.
    sql: `SELECT m.team_id, m.role_key, (m.member_type = 'Patient' AND m.member_id = t.patient_id) AS is_patient
        FROM ind_team_member m JOIN ind_team t ON t.team_id = m.team_id
        WHERE ${TEAM_IN_FORCE} AND ${MEMBER_IN_PERIOD}
      UNION ALL
      SELECT m.team_id, x.system || '|' || x.code, false FROM ind_team_member m JOIN ind_team t ON t.team_id = m.team_id
        JOIN idx_token x ON x.res_type = m.member_type AND x.res_id = m.member_id
          AND ((m.member_type = 'PractitionerRole' AND x.param = 'role') OR (m.member_type = 'RelatedPerson' AND x.param = 'relationship'))
        WHERE m.member_type IN ('PractitionerRole', 'RelatedPerson') AND x.system IS NOT NULL AND x.code IS NOT NULL
          AND ${TEAM_IN_FORCE} AND ${MEMBER_IN_PERIOD}`,
  },
  role_class: {
    deps: [],
    sql: `SELECT c.role_key, c.bit, c.d1, c.d2, c.g FROM unnest({class_key}, {class_bit}, {class_d1}, {class_d2}, {class_g}) AS c(role_key, bit, d1, d2, g)`,
  },
  team_f: {
    deps: ['team_p', 'member_p', 'role_class'],
    // Per team in force: the role classes present (bits), whether the patient takes part, the
    // number of distinct disciplines (a bit per discipline, counted) and the guideline roles held
    // (gbits). One hash aggregate by team.
    sql: `SELECT t.team_id, t.patient_id, COALESCE(f.bits, 0) AS bits, COALESCE(f.patient, false) AS patient,
        COALESCE(bit_count(f.d1::bit(64)) + bit_count(f.d2::bit(64)), 0) AS disciplines, COALESCE(f.g, 0) AS gbits
      FROM team_p t
      LEFT JOIN (SELECT m.team_id, bit_or(COALESCE(c.bit, 0)) AS bits, bool_or(m.is_patient) AS patient,
                   bit_or(COALESCE(c.d1, 0)) AS d1, bit_or(COALESCE(c.d2, 0)) AS d2, bit_or(COALESCE(c.g, 0)) AS g
                 FROM member_p m LEFT JOIN role_class c ON c.role_key = m.role_key GROUP BY m.team_id) f ON f.team_id = t.team_id`,
  },
  guideline_req: {
    deps: [],
    sql: `SELECT g.canonical, g.mask FROM unnest({g_known}, {g_mask}) AS g(canonical, mask)`,
  },
  plan_cov: {
    deps: ['plan_p', 'team_f'],
    // The guideline roles held during the period by members of each plan's care teams (in force).
    sql: `SELECT p.plan_id, bit_or(t.gbits) AS covered FROM plan_p p CROSS JOIN LATERAL unnest(p.team_ids) AS tid(team_id)
      JOIN team_f t ON t.team_id = tid.team_id WHERE p.instantiates && {g_known} GROUP BY p.plan_id`,
  },
  plan_complete: {
    deps: ['plan_p', 'plan_cov', 'guideline_req'],
    // Plans that instantiate a known guideline, and whether their teams hold every discipline
    // that each of those guidelines requires: required bits all among the covered ones.
    sql: `SELECT p.plan_id, bool_and(g.mask & COALESCE(c.covered, 0) = g.mask) AS complete
      FROM plan_p p CROSS JOIN LATERAL unnest(p.instantiates) AS i(canonical)
      JOIN guideline_req g ON g.canonical = i.canonical
      LEFT JOIN plan_cov c ON c.plan_id = p.plan_id
      GROUP BY p.plan_id`,
  },
  plan_updated: {
    deps: ['plan_p'],
    // Plans in force on the last day with a version stored in the 12 months before the period's
    // end (ind_plan.updates: the store's version history of the plan).
    sql: `SELECT p.plan_id FROM plan_p p JOIN ind_plan pl ON pl.plan_id = p.plan_id
      WHERE p.plan_end >= {pe} AND EXISTS (SELECT 1 FROM unnest(pl.updates) AS u(at) WHERE u.at >= {pe} - interval '12 months' AND u.at < {pe})`,
  },
  first_plan: {
    deps: [],
    sql: `SELECT a.condition_id, min(COALESCE(pl.plan_start, pl.first_seen)) AS plan_start
      FROM ind_plan_address a JOIN ind_plan pl ON pl.plan_id = a.plan_id
      WHERE pl.status IN ${PLAN_IN_FORCE} GROUP BY a.condition_id`,
  },
  days_to_plan: {
    deps: ['first_plan', 'chronic_any'],
    sql: `SELECT c.patient_id, ((fp.plan_start AT TIME ZONE 'UTC')::date - (COALESCE(c.recorded, c.first_seen) AT TIME ZONE 'UTC')::date) AS days
      FROM chronic_any c JOIN first_plan fp ON fp.condition_id = c.condition_id
      WHERE fp.plan_start >= {ps} AND fp.plan_start < {pe}
        AND (fp.plan_start AT TIME ZONE 'UTC')::date >= (COALESCE(c.recorded, c.first_seen) AT TIME ZONE 'UTC')::date`,
  },
  consent_ok: {
    deps: [],
    sql: `SELECT DISTINCT c.patient_id FROM ind_consent c WHERE c.status = 'active'
        AND COALESCE(c.provision_type, 'permit') <> 'deny' AND (c.date_time IS NULL OR c.date_time < {pe})
        AND (c.period_start IS NULL OR c.period_start < {pe}) AND (c.period_end IS NULL OR c.period_end > {ps})`,
  },

  // The families: one row per consortium and patient, with the strata and the per-patient sums.
  fam_patient: {
    deps: ['pat', 'plan_p', 'consent_ok'],
    sql: `SELECT pt.*, pp.patient_id IS NOT NULL AS included, pt.chronic > 0 AS has_chronic, co.patient_id IS NOT NULL AS consent
      FROM pat pt LEFT JOIN (SELECT DISTINCT patient_id FROM plan_p) pp ON pp.patient_id = pt.patient_id
      LEFT JOIN consent_ok co ON co.patient_id = pt.patient_id`,
  },
  fam_team: {
    deps: ['pat', 'team_f'],
    sql: `SELECT pt.cid, pt.patient_id, pt.age_band, pt.sex, pt.xs, f.*
      FROM pat pt JOIN (SELECT t.patient_id AS pid, count(*)::int AS teams,
          count(*) FILTER (WHERE t.bits & ${ROLE_BITS.gp + ROLE_BITS.nurse} = ${ROLE_BITS.gp + ROLE_BITS.nurse})::int AS gp_nurse,
          count(*) FILTER (WHERE t.bits & ${ROLE_BITS.pharmacist + ROLE_BITS.physio} <> 0)::int AS pharm_physio,
          count(*) FILTER (WHERE t.patient)::int AS with_patient,
          count(*) FILTER (WHERE t.bits & ${ROLE_BITS.caregiver} <> 0)::int AS caregiver,
          count(*) FILTER (WHERE t.bits & ${ROLE_BITS.coordinator} <> 0)::int AS coordinator,
          sum(t.disciplines)::int AS disciplines
        FROM team_f t GROUP BY t.patient_id) f ON f.pid = pt.patient_id`,
  },
  fam_plan: {
    deps: ['pat', 'plan_p', 'plan_updated'],
    sql: `SELECT pt.cid, pt.patient_id, pt.age_band, pt.sex, pt.xs, f.*
      FROM pat pt JOIN (SELECT p.patient_id AS pid, count(*)::int AS plans,
          count(*) FILTER (WHERE cardinality(p.team_ids) > 0 AND p.goal_count > 0)::int AS team_goal,
          count(*) FILTER (WHERE p.plan_end >= {pe})::int AS at_end, count(pu.plan_id)::int AS updated
        FROM plan_p p LEFT JOIN plan_updated pu ON pu.plan_id = p.plan_id
        GROUP BY p.patient_id) f ON f.pid = pt.patient_id`,
  },
  fam_guideline: {
    deps: ['pat', 'plan_p', 'plan_complete'],
    sql: `SELECT pt.cid, pt.patient_id, pt.age_band, pt.sex, pt.xs, f.*
      FROM pat pt JOIN (SELECT p.patient_id AS pid, count(*)::int AS guideline, count(*) FILTER (WHERE pc.complete)::int AS guideline_complete
        FROM plan_p p JOIN plan_complete pc ON pc.plan_id = p.plan_id GROUP BY p.patient_id) f ON f.pid = pt.patient_id`,
  },
  fam_goal: {
    deps: ['pat', 'plan_p'],
    // Goals of the included patients (a plan in force), started or recorded before the period's end.
    sql: `SELECT pt.cid, pt.patient_id, pt.age_band, pt.sex, pt.xs, f.*
      FROM pat pt JOIN (SELECT g.patient_id AS pid, count(*)::int AS goals,
          count(*) FILTER (WHERE g.expressed_type = 'Patient' AND g.expressed_id = g.patient_id)::int AS by_patient
        FROM ind_goal g WHERE g.lifecycle NOT IN ('cancelled', 'rejected', 'entered-in-error') AND COALESCE(g.goal_start, g.first_seen) < {pe}
          AND g.patient_id IN (SELECT patient_id FROM plan_p)
        GROUP BY g.patient_id) f ON f.pid = pt.patient_id`,
  },
  fam_days: {
    deps: ['pat', 'days_to_plan'],
    sql: `SELECT pt.cid, pt.patient_id, pt.age_band, pt.sex, pt.xs, f.*
      FROM pat pt JOIN (SELECT d.patient_id AS pid, count(*)::int AS n, sum(d.days)::numeric AS days FROM days_to_plan d GROUP BY d.patient_id) f ON f.pid = pt.patient_id`,
  },
  // Observations one by one, for medians: (cid, patient_id, age_band, sex, xs, obs).
  obs_disciplines: {
    deps: ['pat', 'team_f'],
    sql: `SELECT pt.cid, pt.patient_id, pt.age_band, pt.sex, pt.xs, t.disciplines::numeric AS obs FROM team_f t JOIN pat pt ON pt.patient_id = t.patient_id`,
  },
  obs_days: {
    deps: ['pat', 'days_to_plan'],
    sql: `SELECT pt.cid, pt.patient_id, pt.age_band, pt.sex, pt.xs, d.days::numeric AS obs FROM days_to_plan d JOIN pat pt ON pt.patient_id = d.patient_id`,
  },
  obs_chronic: {
    deps: ['fam_patient'],
    sql: `SELECT f.cid, f.patient_id, f.age_band, f.sex, f.xs, f.chronic::numeric AS obs FROM fam_patient f WHERE f.included`,
  },
};

/**
 * How an indicator reads its family: SQL expressions over one per-patient row (alias f) for the
 * units in the denominator and in the numerator (counts), whether the patient has units outside
 * the numerator, and for continuous measures the number and sum of observations and the CTE of
 * the observations one by one (for the median).
 */
export interface IndicatorSql {
  id: string;
  family: 'fam_patient' | 'fam_team' | 'fam_plan' | 'fam_guideline' | 'fam_goal' | 'fam_days';
  den: string;
  num: string;
  obsN?: string;
  obsSum?: string;
  observations?: string;
  /** Strata by the number of chronic conditions as well. */
  extra?: boolean;
}

/** The CTEs that `names` need, dependencies first. */
export function cteOrder(names: string[]): string[] {
  const out: string[] = [];
  const visit = (n: string) => {
    if (out.includes(n)) return;
    const cte = CTES[n];
    if (!cte) throw new Error(`unknown CTE ${n}`);
    for (const d of cte.deps) visit(d);
    out.push(n);
  };
  for (const n of names) visit(n);
  return out;
}

export interface AggregateRow {
  indicator: string;
  cid: string;
  /** null for the totals. */
  stratifier: string | null;
  stratum: string | null;
  den: number;
  num: number;
  den_pat: number;
  num_pat: number;
  rest_pat: number;
  obs_n: number;
  mean: number | null;
  median: number | null;
}

export const MEDIAN_SUFFIX = '#median';

function groupingSets(a: string, extra: boolean): { sets: string; stratifier: string; stratum: string } {
  const sets = [`(${a}.cid)`, `(${a}.cid, ${a}.age_band)`, `(${a}.cid, ${a}.sex)`, ...(extra ? [`(${a}.cid, ${a}.xs)`] : [])].join(', ');
  const stratifier = `CASE WHEN GROUPING(${a}.age_band) = 0 THEN 'age-band' WHEN GROUPING(${a}.sex) = 0 THEN 'sex'${extra ? ` WHEN GROUPING(${a}.xs) = 0 THEN 'chronic-conditions'` : ''} END`;
  const stratum = `CASE WHEN GROUPING(${a}.age_band) = 0 THEN ${a}.age_band WHEN GROUPING(${a}.sex) = 0 THEN ${a}.sex${extra ? ` WHEN GROUPING(${a}.xs) = 0 THEN ${a}.xs` : ''} END`;
  return { sets, stratifier, stratum };
}

/** One indicator: a GROUPING SETS pass over the per-patient rows of its family that have units. */
function aggregate(ind: IndicatorSql): string {
  const g = groupingSets('f', !!ind.extra);
  return `SELECT '${ind.id}'::text AS indicator, f.cid, ${g.stratifier} AS stratifier, ${g.stratum} AS stratum,
      sum(${ind.den})::int AS den, sum(${ind.num})::int AS num, count(*)::int AS den_pat,
      count(*) FILTER (WHERE (${ind.num}) > 0)::int AS num_pat, count(*) FILTER (WHERE (${ind.num}) < (${ind.den}))::int AS rest_pat,
      ${ind.obsN ? `sum(${ind.obsN})::int` : '0'} AS obs_n,
      ${ind.obsN ? `(sum(${ind.obsSum})::numeric / NULLIF(sum(${ind.obsN}), 0))::float8` : 'NULL::float8'} AS mean
    FROM ${ind.family} f WHERE (${ind.den}) > 0
    GROUP BY GROUPING SETS (${g.sets})`;
}

/** The median of a continuous measure, per consortium and stratum (a row '<id>#median' with it in `mean`). */
function median(ind: IndicatorSql): string {
  const g = groupingSets('o', !!ind.extra);
  return `SELECT '${ind.id}${MEDIAN_SUFFIX}'::text AS indicator, o.cid, ${g.stratifier} AS stratifier, ${g.stratum} AS stratum,
      0 AS den, 0 AS num, 0 AS den_pat, 0 AS num_pat, 0 AS rest_pat, 0 AS obs_n,
      (percentile_cont(0.5) WITHIN GROUP (ORDER BY o.obs))::float8 AS mean
    FROM ${ind.observations} o
    GROUP BY GROUPING SETS (${g.sets})`;
}

/**
 * One statement for the indicators asked for: the CTEs they need, once each (PostgreSQL
 * materialises a CTE used more than once), then one aggregate per indicator (and per median),
 * UNION ALL.
 */
export function buildStatement(indicators: IndicatorSql[], values: Record<ParamName, unknown>): { text: string; params: unknown[] } {
  const ctes = cteOrder(indicators.flatMap((i) => [i.family, ...(i.observations ? [i.observations] : [])]));
  const parts = indicators.flatMap((i) => [aggregate(i), ...(i.observations ? [median(i)] : [])]);
  const body = `WITH ${ctes.map((n) => `${n} AS (${CTES[n].sql})`).join(',\n')}\n${parts.map((p) => `(${p})`).join('\nUNION ALL\n')}`;
  const order: ParamName[] = [];
  const text = body.replace(/\{(\w+)\}/g, (_m, name: string) => {
    if (!(name in PARAMS)) throw new Error(`unknown SQL parameter {${name}}`);
    const p = name as ParamName;
    if (!order.includes(p)) order.push(p);
    return `$${order.indexOf(p) + 1}::${PARAMS[p]}`;
  });
  return { text, params: order.map((p) => values[p]) };
}

/** The statement's rows as cells: the medians put on the cells they belong to. */
export function toRows(rows: (Omit<AggregateRow, 'median'> & { median?: number | null })[]): AggregateRow[] {
  const cells = new Map<string, AggregateRow>();
  for (const r of rows) if (!r.indicator.endsWith(MEDIAN_SUFFIX)) cells.set(`${r.indicator}|${r.cid}|${r.stratifier}|${r.stratum}`, { ...r, median: null });
  for (const r of rows) {
    if (!r.indicator.endsWith(MEDIAN_SUFFIX)) continue;
    const cell = cells.get(`${r.indicator.slice(0, -MEDIAN_SUFFIX.length)}|${r.cid}|${r.stratifier}|${r.stratum}`);
    if (cell) cell.median = r.mean;
  }
  return [...cells.values()];
}
