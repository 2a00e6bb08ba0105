/**
 * bench/indicators: every indicator and a full (pseudonymised) bulk export on PostgreSQL, for a
 * generated region of 10,000 to 100,000 patients (care teams, plans, conditions, goals, consents),
 * with the time per 1,000 patients at each size: it must stay flat (linear) or fall.
 *
 * The data goes straight into the store (StoreSession.insertMany: resources, versions, search
 * index, in batches) and the indicator projection is filled for each batch in the same
 * transaction, as the write hook would; seeding through HTTP would take far longer than what is
 * measured. Baselines in the same run: the export is compared with a bare scan of the same rows
 * (SELECT content FROM resource), the indicators with their own time at the smallest size.
 *
 *   npx tsx bench/indicators/run.ts
 *   BENCH_INDICATORS_SIZES=10000,25000,50000,100000   patients at each measuring point
 *   BENCH_POSTGRES_URL                                 an admin connection (default the local one)
 *   BENCH_INDICATORS_KEEP=1                            keep the database icr_bench_indicators afterwards
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { INDICATORS } from '../../src/indicators/definitions.js';
import { analyticalTransaction, IndicatorEngine, parsePeriod } from '../../src/indicators/engine.js';
import { applyChanges } from '../../src/indicators/projection.js';
import { ExportWorker } from '../../src/export/worker.js';
import { createLogger } from '../../src/logging.js';
import { defaultRules } from '../../src/rules/index.js';
import { defaultStatbelDir, parseCsv } from '../../src/rules/statbel.js';
import { searchParameters } from '../../src/search/parameters.js';
import { openDatabase } from '../../src/store/open-database.js';
import { ResourceStore } from '../../src/store/resource-store.js';
import { ssin } from '../lib/bench-data.js';
import { freshPostgres } from '../lib/databases.js';

const HCP = 'https://www.ehealth.fgov.be/standards/fhir/core/CodeSystem/cd-hcparty';
const ICR = 'https://fhir.integrated-care.be/CodeSystem/icr-hcparty';
const SSIN = 'https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin';
const SNOMED = 'http://snomed.info/sct';
const GUIDELINES = ['guideline-diabetes-type2|1.0.0', 'guideline-copd|1.0.0', 'guideline-heart-failure|1.0.0', 'guideline-frail-older-person|1.0.0'];
const CHRONIC = ['44054006', '13645005', '84114007', '38341003', '52448006', '195967001', '49436004'];
const FAMILIES = ['Peeters', 'Janssens', 'Maes', 'Jacobs', 'Mertens', 'Willems', 'Claes', 'Goossens', 'Wouters', 'De Smet', 'Dubois', 'Lambert', 'Dupont', 'Martin'];
const GIVEN = ['Jan', 'Maria', 'Lucas', 'Els', 'Françoise', 'Jean-Pierre', 'Élise', 'Pieter', 'An', 'Marc', 'Sophie', 'Nicolas'];
const CONSORTIA = 5;
const PER_CONSORTIUM = 4;
const PRACTITIONERS = 400;
const EXPORT_TYPES = ['Patient', 'RelatedPerson', 'Practitioner', 'Organization', 'CareTeam', 'CarePlan', 'Condition', 'Goal', 'Consent'];

type R = Record<string, unknown>;

export interface IndicatorsBenchRow {
  patients: number;
  resources: number;
  /** All indicators for all consortia, as the server runs them: two statements side by side (best of 3). */
  indicatorsMs: number;
  indicatorsMsPer1000: number;
  /** The same as one statement on one connection (PGlite, or a busy pool). */
  indicatorsSequentialMs: number;
  /** One bare pass over the same projection rows (count per patient, then per sex): what any statement over this data costs. */
  baselineMs: number;
  exportResources: number;
  exportMs: number;
  exportPerSecond: number;
  exportMsPer1000: number;
  /** Reading the same rows into Node page by page and doing nothing with them: the floor of an export. */
  scanPerSecond: number;
}

export interface IndicatorsBenchResult {
  rows: IndicatorsBenchRow[];
  /** Each indicator alone at the largest size (ms). */
  perIndicatorMs: Record<string, number>;
  /** The identified export at the largest size. */
  identifiedExport?: { resources: number; ms: number; perSecond: number };
  seedMs: number;
}

export interface IndicatorsBenchOptions {
  sizes?: number[];
  postgresUrl?: string;
  log?: (line: string) => void;
}

/**
 * The baseline of the indicators: the least any statement over the same data does, one hash
 * aggregate per projection table per patient, joined to the patients and grouped once, with the
 * engine's settings. How its time per 1,000 patients grows is how PostgreSQL itself scales on this
 * machine (hash tables outgrowing the CPU caches, tables outgrowing shared_buffers); the indicators
 * are linear when their ratio to it stays flat.
 */
const BASELINE_SQL = `SELECT p.gender, count(*), sum(tm.n), sum(c.n), sum(pl.n), sum(g.n), sum(r.n), sum(cs.n)
  FROM ind_patient p
  LEFT JOIN (SELECT t.patient_id, count(*) n FROM ind_team_member m JOIN ind_team t USING (team_id) GROUP BY t.patient_id) tm USING (patient_id)
  LEFT JOIN (SELECT patient_id, count(*) n FROM ind_condition GROUP BY patient_id) c USING (patient_id)
  LEFT JOIN (SELECT patient_id, count(*) n FROM ind_plan GROUP BY patient_id) pl USING (patient_id)
  LEFT JOIN (SELECT patient_id, count(*) n FROM ind_goal GROUP BY patient_id) g USING (patient_id)
  LEFT JOIN (SELECT patient_id, count(*) n FROM ind_residence GROUP BY patient_id) r USING (patient_id)
  LEFT JOIN (SELECT patient_id, count(*) n FROM ind_consent GROUP BY patient_id) cs USING (patient_id)
  GROUP BY p.gender`;

/** Deterministic pseudo-random numbers, so that every run generates the same region. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

async function municipalities(): Promise<{ nis: string; name: string; zip: string }[]> {
  const [header, ...rows] = parseCsv(await fs.readFile(path.join(defaultStatbelDir(), 'municipalities-2020.csv'), 'utf8'));
  const col = (n: string) => header.indexOf(n);
  // Flemish municipalities, every 7th: regions far apart, each with its own NIS codes.
  return rows
    .filter((r) => r[col('region_NL')] === 'Vlaams Gewest')
    .filter((_r, i) => i % 7 === 0)
    .slice(0, CONSORTIA * PER_CONSORTIUM)
    .map((r) => ({ nis: r[col('NIS_code')], name: r[col('municipality_NL')], zip: r[col('zip')] }));
}

const participant = (member: string, system: string, code: string, start: string) => ({ role: [{ coding: [{ system, code }] }], member: { reference: member }, period: { start } });

/** The resources of patient i: about 6 on average. */
function patientResources(i: number, year: number, place: { name: string; zip: string }, random: () => number): R[] {
  const id = `p${i}`;
  const out: R[] = [];
  const age = 20 + Math.floor(random() * 75);
  const birthDate = `${year - age}-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}`;
  const female = random() < 0.52;
  out.push({
    resourceType: 'Patient',
    id,
    identifier: [{ use: 'official', system: SSIN, value: ssin(birthDate, (i % 997) + 1) }],
    name: [{ use: 'official', family: FAMILIES[i % FAMILIES.length], given: [GIVEN[i % GIVEN.length]] }],
    gender: female ? 'female' : 'male',
    birthDate,
    telecom: [{ system: 'phone', value: `+32 56 ${String(100000 + (i % 900000)).slice(-6)}`, use: 'home' }],
    address: [{ use: 'home', line: [`Kerkstraat ${(i % 200) + 1}`], city: place.name, postalCode: place.zip, country: 'BE' }],
    generalPractitioner: [{ reference: `Practitioner/pr${i % PRACTITIONERS}` }],
  });
  const start = `${year - (random() < 0.3 ? 1 : 0)}-${String(1 + Math.floor(random() * 12)).padStart(2, '0')}-01`;
  const conditions: string[] = [];
  const nConditions = random() < 0.5 ? 1 : random() < 0.7 ? 2 : 3;
  for (let c = 0; c < nConditions; c++) {
    const cid = `c${i}-${c}`;
    conditions.push(cid);
    out.push({
      resourceType: 'Condition',
      id: cid,
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: random() < 0.92 ? 'active' : 'resolved' }] },
      verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
      code: { coding: [{ system: SNOMED, code: CHRONIC[Math.floor(random() * CHRONIC.length)] }] },
      subject: { reference: `Patient/${id}` },
      recordedDate: `${year - Math.floor(random() * 3)}-${String(1 + Math.floor(random() * 12)).padStart(2, '0')}-15`,
    });
  }
  const teams: string[] = [];
  const nTeams = random() < 0.1 ? 2 : 1;
  let caregiver: string | undefined;
  if (random() < 0.3) {
    caregiver = `rp${i}`;
    out.push({ resourceType: 'RelatedPerson', id: caregiver, patient: { reference: `Patient/${id}` }, relationship: [{ coding: [{ system: HCP, code: 'perscaregiver' }] }], name: [{ family: FAMILIES[(i + 3) % FAMILIES.length] }] });
  }
  for (let t = 0; t < nTeams; t++) {
    const tid = `t${i}-${t}`;
    teams.push(tid);
    const p = (n: number) => `Practitioner/pr${(i * 7 + n) % PRACTITIONERS}`;
    const members = [];
    if (random() < 0.85) members.push(participant(`Patient/${id}`, HCP, 'patient', start));
    if (random() < 0.9) members.push(participant(p(0), HCP, 'persgeneralphysician', start));
    if (random() < 0.8) members.push(participant(p(1), HCP, 'persnurse', start));
    if (random() < 0.3) members.push(participant(p(2), HCP, 'perspharmacist', start));
    if (random() < 0.25) members.push(participant(p(3), HCP, 'persphysiotherapist', start));
    if (random() < 0.15) members.push(participant(p(4), HCP, 'persdietician', start));
    if (random() < 0.4) members.push(participant(p(5), ICR, random() < 0.5 ? 'carecoordinator' : 'casemanager', start));
    if (caregiver && t === 0) members.push(participant(`RelatedPerson/${caregiver}`, HCP, 'perscaregiver', start));
    out.push({ resourceType: 'CareTeam', id: tid, status: 'active', subject: { reference: `Patient/${id}` }, period: { start }, participant: members });
  }
  const goals: string[] = [];
  const nGoals = random() < 0.3 ? 0 : random() < 0.7 ? 1 : 2;
  for (let g = 0; g < nGoals; g++) {
    const gid = `g${i}-${g}`;
    goals.push(gid);
    out.push({
      resourceType: 'Goal',
      id: gid,
      lifecycleStatus: 'active',
      description: { text: 'Elke dag een half uur wandelen' },
      subject: { reference: `Patient/${id}` },
      startDate: start,
      expressedBy: { reference: random() < 0.5 ? `Patient/${id}` : `Practitioner/pr${i % PRACTITIONERS}` },
    });
  }
  if (random() < 0.9) {
    const ended = random() < 0.1;
    out.push({
      resourceType: 'CarePlan',
      id: `cp${i}`,
      status: ended ? 'completed' : 'active',
      intent: 'plan',
      ...(random() < 0.6 ? { instantiatesCanonical: [`https://fhir.integrated-care.be/PlanDefinition/${GUIDELINES[i % GUIDELINES.length]}`] } : {}),
      subject: { reference: `Patient/${id}` },
      period: ended ? { start: `${year - 2}-01-01`, end: `${year - 1}-06-30` } : { start },
      careTeam: teams.map((t) => ({ reference: `CareTeam/${t}` })),
      addresses: conditions.map((c) => ({ reference: `Condition/${c}` })),
      goal: goals.map((g) => ({ reference: `Goal/${g}` })),
    });
  }
  if (random() < 0.7) {
    out.push({
      resourceType: 'Consent',
      id: `consent${i}`,
      status: 'active',
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
      patient: { reference: `Patient/${id}` },
      dateTime: `${start}T10:00:00Z`,
      policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
      provision: { type: 'permit', period: { start } },
    });
  }
  return out;
}

async function best<T>(times: number, fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  let result: { ms: number; value: T } | undefined;
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    const value = await fn();
    const ms = performance.now() - started;
    if (!result || ms < result.ms) result = { ms, value };
  }
  return result!;
}

export async function runIndicatorsBench(options: IndicatorsBenchOptions = {}): Promise<IndicatorsBenchResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const sizes = [...(options.sizes ?? [10_000, 25_000, 50_000, 100_000])].sort((a, b) => a - b);
  const pg = await freshPostgres(options.postgresUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres', 'icr_bench_indicators');
  const db = await openDatabase({ url: pg.url, poolSize: 4 });
  const rules = defaultRules();
  const store = new ResourceStore(db, searchParameters(), { refIntegrityOnWrite: false, refIntegrityOnDelete: false });
  const engine = new IndicatorEngine(rules, { parallel: 1 });
  const sequential = new IndicatorEngine(rules);
  const logger = createLogger('warn');
  const year = new Date().getUTCFullYear();
  const period = parsePeriod(`${year}-01-01`, `${year}-12-31`);
  const places = await municipalities();
  const random = rng(7270101);
  const result: IndicatorsBenchResult = { rows: [], perIndicatorMs: {}, seedMs: 0 };
  try {
    // The consortia and the practitioners.
    const directory: R[] = [];
    for (let c = 0; c < CONSORTIA; c++) {
      directory.push({
        resourceType: 'Organization',
        id: `cons${c}`,
        active: true,
        name: `Consortium ${c + 1}`,
        type: [{ coding: [{ system: ICR, code: 'orgconsortium' }] }],
        extension: places.slice(c * PER_CONSORTIUM, (c + 1) * PER_CONSORTIUM).map((m) => ({
          url: 'https://fhir.integrated-care.be/StructureDefinition/icr-region-municipality',
          valueCoding: { system: 'https://fhir.integrated-care.be/CodeSystem/refnis', version: '2020', code: m.nis },
        })),
      });
    }
    for (let p = 0; p < PRACTITIONERS; p++) directory.push({ resourceType: 'Practitioner', id: `pr${p}`, name: [{ family: FAMILIES[p % FAMILIES.length], given: [GIVEN[p % GIVEN.length]] }] });
    await store.transaction((s) => s.insertMany(directory), { integrity: false });

    let seeded = 0;
    let resources = 0;
    const worker = new ExportWorker({ db, logger, exportKey: async () => Buffer.alloc(32, 7), fileResources: 50_000, leaseSeconds: 300, retentionHours: 1 });
    for (const size of sizes) {
      const seedStart = performance.now();
      while (seeded < size) {
        const batch: R[] = [];
        const upto = Math.min(size, seeded + 500);
        for (let i = seeded; i < upto; i++) batch.push(...patientResources(i, year, places[i % places.length], random));
        await store.transaction(async (s) => {
          await s.insertMany(batch);
          await applyChanges(s.exec, s.changes, rules.data);
        }, { integrity: false });
        resources += batch.length;
        seeded = upto;
      }
      await db.query('ANALYZE');
      result.seedMs += performance.now() - seedStart;
      log(`indicators bench: ${size} patients, ${resources} resources (seeded in ${Math.round((performance.now() - seedStart) / 1000)} s)`);

      const consortia = await engine.consortia(db);
      const indicators = await best(3, () => engine.evaluate(db, INDICATORS, consortia, consortia, period));
      const indicatorsSequential = await best(3, () => sequential.evaluate(db, INDICATORS, consortia, consortia, period));
      const baseline = await best(3, () =>
        db.transaction(async (tx) => {
          await analyticalTransaction(tx);
          return tx.query(BASELINE_SQL);
        }),
      );
      // The floor of an export: the same rows, by type and in pages of 1,000 as the export reads them, to Node and no further.
      const scan = await best(2, async () => {
        let n = 0;
        for (const type of EXPORT_TYPES) {
          let cursor = 0;
          for (;;) {
            const { rows } = await db.query<{ seq: number; content: string }>(
              'SELECT seq, content FROM resource WHERE res_type = $1 AND seq > $2 AND NOT deleted ORDER BY seq LIMIT 1000',
              [type, cursor],
            );
            if (!rows.length) break;
            n += rows.length;
            cursor = rows[rows.length - 1].seq;
          }
        }
        return n;
      });

      const exportRun = async (pseudonymised: boolean) => {
        const job = await worker.jobs.create({
          client: 'bench',
          pseudonymised,
          level: 'system',
          types: EXPORT_TYPES,
          request: 'bench',
          baseUrl: 'http://bench/fhir',
        });
        const started = performance.now();
        await worker.runOne();
        const ms = performance.now() - started;
        const done = await worker.jobs.get(job.id);
        if (done?.status !== 'completed') throw new Error(`export ${job.id} ended ${done?.status}: ${done?.error}`);
        await worker.jobs.delete(job.id);
        return { ms, resources: done.done };
      };
      const exported = await exportRun(true);
      const row: IndicatorsBenchRow = {
        patients: size,
        resources: resources + directory.length,
        indicatorsMs: Math.round(indicators.ms),
        indicatorsMsPer1000: Math.round((indicators.ms / (size / 1000)) * 10) / 10,
        indicatorsSequentialMs: Math.round(indicatorsSequential.ms),
        baselineMs: Math.round(baseline.ms),
        exportResources: exported.resources,
        exportMs: Math.round(exported.ms),
        exportPerSecond: Math.round(exported.resources / (exported.ms / 1000)),
        exportMsPer1000: Math.round((exported.ms / (size / 1000)) * 10) / 10,
        scanPerSecond: Math.round(scan.value / (scan.ms / 1000)),
      };
      result.rows.push(row);
      log(
        `  indicators ${row.indicatorsMs} ms (${row.indicatorsMsPer1000} ms per 1,000 patients; one statement ${row.indicatorsSequentialMs} ms); pseudonymised export ${row.exportResources} resources in ${row.exportMs} ms (${row.exportPerSecond}/s)`,
      );
      if (size === sizes[sizes.length - 1]) {
        for (const def of INDICATORS) result.perIndicatorMs[def.id] = Math.round((await best(2, () => sequential.evaluate(db, [def], consortia, consortia, period))).ms);
        const identified = await exportRun(false);
        result.identifiedExport = { resources: identified.resources, ms: Math.round(identified.ms), perSecond: Math.round(identified.resources / (identified.ms / 1000)) };
      }
    }
  } finally {
    await db.close();
    if (!process.env.BENCH_INDICATORS_KEEP) await pg.drop();
  }
  return result;
}

export function printIndicatorsBench(result: IndicatorsBenchResult): void {
  const first = result.rows[0];
  console.log('\nIndicators (all 15, every consortium) and pseudonymised export, PostgreSQL');
  console.table(
    result.rows.map((r) => ({
      patients: r.patients,
      resources: r.resources,
      'indicators ms': r.indicatorsMs,
      'ms / 1,000 patients': r.indicatorsMsPer1000,
      'vs smallest': `${Math.round((r.indicatorsMsPer1000 / first.indicatorsMsPer1000) * 100)}%`,
      'one statement ms': r.indicatorsSequentialMs,
      'baseline ms': r.baselineMs,
      'baseline ms / 1,000': Math.round((r.baselineMs / (r.patients / 1000)) * 10) / 10,
      'one statement / baseline': Math.round((r.indicatorsSequentialMs / r.baselineMs) * 100) / 100,
      'export resources/s': r.exportPerSecond,
      'export ms / 1,000 patients': r.exportMsPer1000,
      'read floor resources/s': r.scanPerSecond,
      'export vs floor': `${Math.round((r.exportPerSecond / r.scanPerSecond) * 100)}%`,
    })),
  );
  console.log('Each indicator alone (one statement), at the largest size:');
  console.table(Object.entries(result.perIndicatorMs).map(([id, ms]) => ({ indicator: id, ms })));
  if (result.identifiedExport) console.log(`identified export at the largest size: ${result.identifiedExport.resources} resources, ${result.identifiedExport.perSecond}/s`);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const sizes = process.env.BENCH_INDICATORS_SIZES?.split(',').map(Number).filter((n) => n > 0);
  const result = await runIndicatorsBench({ sizes, postgresUrl: process.env.BENCH_POSTGRES_URL });
  printIndicatorsBench(result);
  await fs.mkdir('bench/results', { recursive: true });
  await fs.writeFile('bench/results/indicators-latest.json', JSON.stringify({ date: new Date().toISOString(), ...result }, null, 2));
  console.log('results written to bench/results/indicators-latest.json');
}
