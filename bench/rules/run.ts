/**
 * Rules benchmark: what the consortium and care-team rules cost on top of plain profile
 * validation of the same resources, in the same run.
 *
 *   - a care team of 50 members (the patient, an informal caregiver, a GP, a nurse, a care
 *     coordinator and 45 other providers, half of them through onBehalfOf, half through their
 *     PractitionerRoles), for a patient whose consortium has 200 partners;
 *   - a consortium of 200 partners (200 partner Organizations and 200 OrganizationAffiliations),
 *     with 12 other registered consortia for the overlap rule.
 *
 * Each is measured three ways: the rules engine alone (the rules evaluated on facts already at
 * hand), the rules as the server runs them (with their store look-ups: one query for a care team;
 * the registered consortia, and the partners of a stored consortium), and the whole request
 * (a PUT of the team, $check-consortium), each against the validator on the same resources.
 * The store is an in-memory PGlite, as `npm start` runs by default.
 *
 *   npx tsx bench/rules/run.ts          (BENCH_TIME_MS per task, default 1000)
 */
import { pathToFileURL } from 'node:url';
import { Bench } from 'tinybench';
import { createRuntime, type Runtime } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';
import { SYSTEM_PRINCIPAL } from '../../src/interactions/context.js';
import { importPaths } from '../../src/import/importer.js';
import type { RequestContext } from '../../src/interactions/context.js';
import type { InteractionRequest } from '../../src/interactions/dispatch.js';
import { createLogger } from '../../src/logging.js';
import { evaluateCareTeam, participantFacts, type CareTeamFacts } from '../../src/rules/care-team.js';
import { evaluateConsortium, regionOf, type ConsortiumInput, type OtherConsortium } from '../../src/rules/consortium.js';
import { defaultRules } from '../../src/rules/index.js';

export interface RulesBenchRow {
  scenario: string;
  /** Microseconds per call, validating the same resources with the profiles (the baseline). */
  validateUs: number;
  /** Microseconds per call of what is measured (the rules, or the request with the rules). */
  rulesUs: number;
  /** rulesUs / validateUs: what the rules add on top of validation (the aim is below 0.25). */
  ratio: number;
  note: string;
}

type Obj = Record<string, unknown>;
const HC = 'https://www.ehealth.fgov.be/standards/fhir/core/CodeSystem/cd-hcparty';
const ICR = 'https://fhir.integrated-care.be/CodeSystem/icr-hcparty';
const NIS = 'https://fhir.integrated-care.be/CodeSystem/refnis';
const REGION = 'https://fhir.integrated-care.be/StructureDefinition/icr-region-municipality';
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
const coding = (system: string, code: string) => ({ coding: [{ system, code }] });
const CATEGORIES: [string, string][] = [
  [HC, 'groupofphysicianssameaddress'],
  [HC, 'groupofnurses'],
  [HC, 'orghospital'],
  [HC, 'orgretirementhome'],
  [ICR, 'orghomecare'],
  [ICR, 'orgconsultationstructure'],
  [ICR, 'orgpatientassociation'],
  [ICR, 'orgsel'],
  [ICR, 'orglmn'],
  [ICR, 'orgggznetwork'],
  [ICR, 'orglogo'],
  [HC, 'orgpharmacy'],
];

/** A consortium with 200 partners in Kortrijk and around, as stored resources. */
function bigConsortium(): { consortium: Obj; organizations: Obj[]; affiliations: Obj[] } {
  const region = ['34022', '34023', '34013', '34025', '34042', '34041', '34027'];
  const consortium: Obj = {
    resourceType: 'Organization',
    id: 'bench-consortium',
    extension: region.map((code) => ({ url: REGION, valueCoding: { system: NIS, version: '2025', code } })),
    active: true,
    type: [coding(ICR, 'orgconsortium')],
    name: 'Bench consortium',
  };
  const organizations: Obj[] = [];
  const affiliations: Obj[] = [];
  for (let i = 0; i < 200; i++) {
    const [system, code] = CATEGORIES[i % CATEGORIES.length];
    organizations.push({ resourceType: 'Organization', id: `bench-partner-${i}`, active: true, type: [coding(system, code)], name: `Bench partner ${i}`, address: [{ city: 'Kortrijk', postalCode: '8500', country: 'BE' }] });
    const affiliation: Obj = {
      resourceType: 'OrganizationAffiliation',
      id: `bench-aff-${i}`,
      active: true,
      period: { start: '2017-01-01' },
      organization: { reference: 'Organization/bench-consortium' },
      participatingOrganization: { reference: `Organization/bench-partner-${i}` },
      code: [coding(system, code)],
    };
    if (code === 'orghospital') affiliation.specialty = [coding(HC, 'deptcardiology'), coding(HC, 'deptpneumology')];
    affiliations.push(affiliation);
  }
  return { consortium, organizations, affiliations };
}

/** 12 more registered consortia, each with a region of a few municipalities elsewhere. */
function otherConsortia(): Obj[] {
  const regions = [
    ['31005'], ['44021'], ['92094'], ['62063'], ['11002'], ['21004'], ['24062'], ['71022'], ['52011'], ['53053'], ['57081'], ['85011'],
  ];
  return regions.map((codes, i) => ({
    resourceType: 'Organization',
    id: `bench-other-${i}`,
    extension: codes.map((code) => ({ url: REGION, valueCoding: { system: NIS, code } })),
    type: [coding(ICR, 'orgconsortium')],
    name: `Other consortium ${i}`,
  }));
}

/** 45 practitioners with a role at a partner, and the 50-member team of Jan Peeters (Kortrijk). */
export function bigTeam(): { practitioners: Obj[]; roles: Obj[]; team: Obj } {
  const practitioners: Obj[] = [];
  const roles: Obj[] = [];
  const period = { start: '2024-02-01' };
  const participants: Obj[] = [
    { role: [coding(HC, 'patient')], member: { reference: 'Patient/pat-jan-peeters' }, period },
    { role: [coding(HC, 'perscaregiver')], member: { reference: 'RelatedPerson/rp-maria-peeters' }, period },
    { role: [coding(HC, 'persgeneralphysician')], member: { reference: 'Practitioner/prac-an-vermeulen' }, period, onBehalfOf: { reference: 'Organization/org-hap-de-brug' } },
    { role: [coding(HC, 'persnurse')], member: { reference: 'Practitioner/prac-els-maes' }, period, onBehalfOf: { reference: 'Organization/org-thuisverpleging-zuidwest' } },
    { role: [coding(ICR, 'carecoordinator')], member: { reference: 'Practitioner/prac-sarah-goossens' }, period, onBehalfOf: { reference: 'Organization/org-thuisverpleging-zuidwest' } },
  ];
  const kinds = ['persnurse', 'persphysiotherapist', 'perspharmacist', 'persdietician', 'persoccupationaltherapist'];
  for (let i = 0; i < 45; i++) {
    const kind = kinds[i % kinds.length];
    practitioners.push({ resourceType: 'Practitioner', id: `bench-prac-${i}`, name: [{ family: `Bench${i}`, given: ['P'] }] });
    roles.push({ resourceType: 'PractitionerRole', id: `bench-role-${i}`, active: true, practitioner: { reference: `Practitioner/bench-prac-${i}` }, organization: { reference: `Organization/bench-partner-${i}` }, code: [coding(HC, kind)] });
    const p: Obj = { role: [coding(HC, kind)], member: { reference: `Practitioner/bench-prac-${i}` }, period };
    if (i % 2 === 0) p.onBehalfOf = { reference: `Organization/bench-partner-${i}` };
    participants.push(p);
  }
  const team: Obj = {
    resourceType: 'CareTeam',
    id: 'bench-team',
    status: 'active',
    name: 'Bench team',
    subject: { reference: 'Patient/pat-jan-peeters' },
    period,
    participant: participants,
  };
  return { practitioners, roles, team };
}

/** Median microseconds of two async tasks run in alternation for about `ms` (after a warm-up). */
async function alternate(a: () => Promise<unknown>, b: () => Promise<unknown>, ms: number): Promise<[number, number]> {
  for (let i = 0; i < 10; i++) {
    await a();
    await b();
  }
  const ta: number[] = [];
  const tb: number[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end || ta.length < 20) {
    let t = performance.now();
    await a();
    ta.push(performance.now() - t);
    t = performance.now();
    await b();
    tb.push(performance.now() - t);
  }
  const median = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)] * 1000;
  return [median(ta), median(tb)];
}

const ctxFor = (baseUrl: string): RequestContext => ({ baseUrl, lang: 'en', prefer: {}, requestId: 'bench', principal: SYSTEM_PRINCIPAL });
const request = (method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): InteractionRequest =>
  ({ method, path, query: [], rawQuery: '', body }) as unknown as InteractionRequest;

/** A runtime on a fresh database (in-memory PGlite, or a new schema of BENCH_RULES_DATABASE_URL) with the fixtures and the bench data. */
export async function seeded(withRules: boolean, databaseUrl = process.env.BENCH_RULES_DATABASE_URL ?? 'memory://'): Promise<Runtime> {
  const schema = databaseUrl.startsWith('postgres') ? `bench_rules_${withRules ? 'a' : 'b'}_${process.pid}` : undefined;
  const config = loadConfig({}, { databaseUrl, databaseSchema: schema, logLevel: 'silent', auditFlushMs: 0 });
  const runtime = await createRuntime(config, { logger: createLogger('silent'), ...(withRules ? {} : { writeChecks: [] }) });
  const ctx = ctxFor('http://bench/fhir');
  const summary = await importPaths(['fixtures'], (req) => runtime.service.dispatch(ctx, req));
  if (summary.failed.length) throw new Error(`fixtures: ${JSON.stringify(summary.failed)}`);
  const { consortium, organizations, affiliations } = bigConsortium();
  const { practitioners, roles } = bigTeam();
  const entry = [consortium, ...organizations, ...affiliations, ...otherConsortia(), ...practitioners, ...roles].map((resource) => ({
    resource,
    request: { method: 'PUT', url: `${String(resource.resourceType)}/${String(resource.id)}` },
  }));
  const res = await runtime.service.dispatch(ctx, request('POST', '', { resourceType: 'Bundle', type: 'transaction', entry }));
  if (res.status !== 200) throw new Error(`seed: ${res.status} ${JSON.stringify(res.body).slice(0, 500)}`);
  return runtime;
}

export async function runRulesBench(log: (line: string) => void = console.log): Promise<RulesBenchRow[]> {
  const timeMs = Number(process.env.BENCH_TIME_MS ?? 1000);
  const rules = defaultRules();
  const withRules = await seeded(true);
  const without = await seeded(false);
  const validator = withRules.validator;
  const ctx = ctxFor('http://bench/fhir');
  const day = new Date().toISOString().slice(0, 10);
  const rows: RulesBenchRow[] = [];

  // --- the care team of 50 members ---
  const { team, roles } = bigTeam();
  const check = withRules.service.deps.writeChecks[0];
  // What the store query gives the rules: role codes by role, organisations by practitioner.
  const codesByRole = new Map(roles.map((r) => [String(r.id), (r.code as { coding: { system: string; code: string }[] }[]).flatMap((c) => c.coding.map((x) => `${x.system}|${x.code}`))]));
  const orgsByPractitioner = new Map<string, string[]>();
  for (const r of roles) {
    const practitioner = String((r.practitioner as Obj).reference).split('/')[1];
    orgsByPractitioner.set(practitioner, [...(orgsByPractitioner.get(practitioner) ?? []), String((r.organization as Obj).reference).split('/')[1]]);
  }
  const lookup = {
    roleCodes: (id: string) => codesByRole.get(id) ?? [],
    memberOrganizations: (m: { type: string; id: string }) => (m.type === 'Practitioner' ? (orgsByPractitioner.get(m.id) ?? []) : []),
  };
  const partners = new Set(['bench-consortium', ...Array.from({ length: 200 }, (_, i) => `bench-partner-${i}`), 'org-hap-de-brug', 'org-thuisverpleging-zuidwest']);
  const careTeamRules = rules.book.careTeamRules(rules.book.defaultConsortium);
  const teamIssues = (await check(ctx, withRules.store.reader(), team, undefined)).filter((i) => i.severity !== 'information');
  log(`care team of ${(team.participant as unknown[]).length} members: ${teamIssues.length} rule issues (${teamIssues.map((i) => i.details?.coding?.[0].code).join(', ') || 'none'})`);

  let version = 0;
  const put = (runtime: Runtime) => async () => {
    const res = await runtime.service.dispatch(ctx, request('PUT', 'CareTeam/bench-team', { ...team, name: `Bench team ${++version}` }));
    if (res.status !== 200 && res.status !== 201) throw new Error(`PUT: ${res.status}`);
  };
  const teamBench = new Bench({ name: 'care team', time: timeMs, warmupTime: Math.min(500, timeMs / 2) });
  teamBench
    .add('validate', () => {
      validator.validate(team);
    })
    .add('rules engine', () => {
      const facts: CareTeamFacts = { subject: { type: 'Patient', id: 'pat-jan-peeters' }, participants: participantFacts(team, day, lookup), consortium: { id: 'bench-consortium', name: 'Bench consortium', partners } };
      evaluateCareTeam(facts, careTeamRules, { lang: 'en', displays: rules.displays, advice: false, problemsOnly: true });
    })
    .add('rules with store look-ups', async () => {
      await check(ctx, withRules.store.reader(), team, undefined);
    });
  await teamBench.run();
  // Whole updates, alternating with and without the rules so that both see the same machine load.
  const [putWith, putWithout] = await alternate(put(withRules), put(without), timeMs * 3);

  // --- the consortium of 200 partners ---
  const { consortium, organizations, affiliations } = bigConsortium();
  const bundle = {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [consortium, ...organizations, ...affiliations].map((resource) => ({ fullUrl: `http://bench/fhir/${String(resource.resourceType)}/${String(resource.id)}`, resource })),
  };
  const orgsById = new Map(organizations.map((o) => [String(o.id), o]));
  const input: ConsortiumInput = {
    consortium,
    path: 'Organization',
    affiliations: affiliations.map((a) => ({ resource: a, partner: orgsById.get(String((a.participatingOrganization as Obj).reference).split('/')[1]) })),
  };
  const others: OtherConsortium[] = otherConsortia().map((o) => ({ id: String(o.id), name: String(o.name), parts: regionOf(o, rules.data).parts }));
  const consortiumRules = rules.book.defaultConsortium;
  const engineIssues = evaluateConsortium(input, consortiumRules, others, { data: rules.data, displays: rules.displays, lang: 'en', day });
  log(`consortium of ${affiliations.length} partners: ${engineIssues.filter((i) => i.severity !== 'information').length} rule issues, ${engineIssues.length} in all`);
  const each = [consortium, ...organizations, ...affiliations];
  const consortiumBench = new Bench({ name: 'consortium', time: timeMs, warmupTime: Math.min(500, timeMs / 2) });
  consortiumBench
    .add('validate', () => {
      for (const r of each) validator.validate(r);
    })
    .add('validate Bundle', () => {
      validator.validate(bundle);
    })
    .add('rules engine', () => {
      evaluateConsortium(input, consortiumRules, others, { data: rules.data, displays: rules.displays, lang: 'en', day });
    })
    .add('GET $check-consortium', async () => {
      const res = await withRules.service.dispatch(ctx, request('GET', 'Organization/bench-consortium/$check-consortium'));
      if (res.status !== 200) throw new Error(String(res.status));
    })
    .add('POST $check-consortium', async () => {
      const res = await withRules.service.dispatch(ctx, request('POST', 'Organization/$check-consortium', bundle));
      if (res.status !== 200) throw new Error(String(res.status));
    });
  await consortiumBench.run();

  const mean = (bench: Bench, task: string) => {
    const r = bench.getTask(task)?.result;
    if (!r || r.state !== 'completed') throw new Error(`${bench.name}/${task}: ${r?.state}`);
    return r.latency.mean * 1000;
  };
  const teamValidate = mean(teamBench, 'validate');
  const add = (scenario: string, validateUs: number, rulesUs: number, note: string) => {
    rows.push({ scenario, validateUs: round(validateUs, 1), rulesUs: round(rulesUs, 1), ratio: round(rulesUs / validateUs), note });
    log(`${scenario}: ${round(rulesUs, 1)} us vs validation ${round(validateUs, 1)} us (${Math.round((rulesUs / validateUs) * 100)}%)`);
  };
  add('care team (50 members): rules engine', teamValidate, mean(teamBench, 'rules engine'), 'the seven care-team rules on facts at hand, vs validating the CareTeam');
  add('care team (50 members): rules with store look-ups', teamValidate, mean(teamBench, 'rules with store look-ups'), 'the write check as it runs in a write: one query (patient, roles, consortia, partnerships) + the rules');
  add('care team (50 members): PUT, extra time of the rules', putWithout, putWith - putWithout, `a whole update (validation, policy, SQL; median) takes ${round(putWithout / 1000, 2)} ms without the rules, ${round(putWith / 1000, 2)} ms with them`);
  const consortiumValidate = mean(consortiumBench, 'validate');
  add('consortium (200 partners): rules engine', consortiumValidate, mean(consortiumBench, 'rules engine'), '16 rules incl. population and overlap with 12 other consortia, vs validating the 401 resources one by one');
  const bundleValidate = mean(consortiumBench, 'validate Bundle');
  const post = mean(consortiumBench, 'POST $check-consortium');
  add('consortium (200 partners): POST $check-consortium, beyond validating its Bundle', bundleValidate, post - bundleValidate, `the operation (${round(post / 1000, 2)} ms) validates the Bundle (${round(bundleValidate / 1000, 2)} ms), reads the registered consortia and evaluates the rules`);
  add('consortium (200 partners): GET $check-consortium (stored)', consortiumValidate, mean(consortiumBench, 'GET $check-consortium'), 'reads the consortium, its 200 partnerships and partners and the registered consortia, and evaluates the rules; no validation in it');
  await withRules.close();
  await without.close();
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await runRulesBench();
  console.log('\nRules: time per call against plain validation of the same resources (same run); the aim is a ratio below 0.25');
  console.table(rows.map((r) => ({ scenario: r.scenario, 'validate us': r.validateUs, 'rules us': r.rulesUs, ratio: r.ratio, note: r.note })));
}
