import type { OperationOutcomeIssue } from 'fhir/r4.js';
import { badRequest, FhirError, notFound, operationOutcome } from '../fhir/errors.js';
import { localize } from '../i18n/language.js';
import type { RequestContext } from '../interactions/context.js';
import type { OperationCall, OperationDef } from '../interactions/operations.js';
import type { ServiceDeps } from '../interactions/service-deps.js';
import type { StoredResource, StoreSession } from '../store/resource-store.js';
import { participantFacts, type ParticipantFacts } from './care-team.js';
import { evaluateConsortium, type ConsortiumInput, type OtherConsortium } from './consortium.js';
import { applyGuideline, compileGuideline, guidelineGaps, type Guideline } from './guidelines.js';
import type { RulesEngine } from './index.js';
import { bySeverity, textIssue } from './issues.js';
import { MSG } from './messages.js';
import { arr, callOf, isConsortium, isObj, periodCovers, refOf, str, today, type Obj } from './model.js';

const MAX_RESULTS = 5000;

/** Reads through the access policy: what the caller may not see reads as absent. */
class PolicyReader {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly ctx: RequestContext,
    readonly session: StoreSession,
  ) {}

  async read(type: string, id: string): Promise<Obj | undefined> {
    const where = await this.deps.policy.readRestrictions(this.ctx, type, undefined, id);
    const r = await this.session.read(type, id, { where });
    return r && !r.deleted && r.json ? (JSON.parse(r.json) as Obj) : undefined;
  }

  /** Every match of a search (and its includes) that the caller may see. */
  async search(type: string, params: [string, string][]): Promise<{ matches: Obj[]; includes: Obj[] }> {
    const req = this.deps.parser.parse(type, params, { defaultCount: MAX_RESULTS, maxCount: MAX_RESULTS, strict: true });
    req.total = 'none';
    const restrictions = await this.deps.policy.searchRestrictions(this.ctx, type);
    const result = await this.session.search(req, {
      localBase: this.ctx.baseUrl,
      maxIncludes: MAX_RESULTS,
      restrictions,
      includeFilter: (found) => this.deps.policy.visible(this.ctx, found, this.session.exec),
    });
    const parse = (list: StoredResource[]) => list.filter((r) => r.json).map((r) => JSON.parse(r.json!) as Obj);
    return { matches: parse(result.matches), includes: parse(result.includes) };
  }

  /** Resources by id that the caller may see (no error for those it may not). */
  async byIds(type: string, ids: string[]): Promise<Obj[]> {
    if (!ids.length) return [];
    const rows: StoredResource[] = [];
    for (const id of new Set(ids)) {
      const r = await this.session.read(type, id);
      if (r && !r.deleted) rows.push(r);
    }
    const visible = await this.deps.policy.visible(this.ctx, rows, this.session.exec);
    return visible.map((r) => JSON.parse(r.json!) as Obj);
  }
}

function param(call: OperationCall, name: string): string | undefined {
  const fromQuery = call.params.find(([k]) => k === name)?.[1];
  if (fromQuery !== undefined) return fromQuery;
  const body = call.body;
  if (isObj(body) && body.resourceType === 'Parameters') {
    const p = arr(body.parameter).filter(isObj).find((x) => x.name === name);
    if (p) return str(p.valueString) ?? str(p.valueUri) ?? str(p.valueCanonical) ?? str(p.valueCode) ?? str(isObj(p.valueReference) ? p.valueReference.reference : undefined);
  }
  return undefined;
}

const withoutNarrativeAdvice = (issues: OperationOutcomeIssue[]) =>
  issues.filter((i) => i.severity !== 'information' && !i.details?.coding?.some((c) => c.code === 'dom-6'));

/** Participant facts of care teams, with the codes and organisations of their PractitionerRole members. */
async function teamParticipants(reader: PolicyReader, teams: Obj[], day: string): Promise<ParticipantFacts[]> {
  const roleIds = teams.flatMap((t) => arr(t.participant).map((p) => refOf(isObj(p) ? p.member : undefined)).filter((m) => m?.type === 'PractitionerRole').map((m) => m!.id));
  const roles = new Map((await reader.byIds('PractitionerRole', roleIds)).map((r) => [String(r.id), r]));
  const lookup = {
    roleCodes: (id: string) => arr(roles.get(id)?.code).flatMap((c) => arr(isObj(c) ? c.coding : undefined)).filter(isObj).map((c) => `${String(c.system)}|${String(c.code)}`),
    memberOrganizations: () => [],
  };
  return teams.flatMap((t) => participantFacts(t, day, lookup));
}

/** Registers $check-consortium, $apply and $gaps. */
export function ruleOperations(deps: ServiceDeps, engine: RulesEngine): OperationDef[] {
  const lang = (ctx: RequestContext) => ctx.lang;

  /** The registered consortia with their regions, from the directory cache (the caller may read Organizations). */
  const registeredConsortia = async (reader: PolicyReader): Promise<OtherConsortium[]> => {
    const directory = await engine.directory(reader.session.store).get(reader.session);
    return [...directory.consortia.values()].filter((c) => c.active).map((c) => ({ id: c.id, name: c.name, parts: c.parts }));
  };

  const checkConsortium: OperationDef = {
    name: 'check-consortium',
    scopes: ['type', 'instance'],
    types: ['Organization'],
    idempotent: true,
    definition: 'https://fhir.integrated-care.be/OperationDefinition/Organization-check-consortium',
    documentation:
      'Checks a consortium (an Organization of type orgconsortium, its OrganizationAffiliations and region) against the rules of its call for projects: POST a Bundle at the type level, or GET/POST on a stored consortium; an OperationOutcome with one issue per rule (docs/rules.md)',
    async handler(ctx, call) {
      await deps.policy.checkInteraction(ctx, 'operation', 'Organization');
      const reader = new PolicyReader(deps, ctx, call.session ?? deps.store.reader());
      const pre: OperationOutcomeIssue[] = [];
      let input: ConsortiumInput;
      if (call.id) {
        const org = await reader.read('Organization', call.id);
        if (!org) throw notFound(`Organization/${call.id} is not known`);
        if (!isConsortium(org)) throw new FhirError(422, operationOutcome([textIssue('error', 'business-rule', MSG.notConsortium, lang(ctx), { id: call.id })]));
        await deps.policy.checkInteraction(ctx, 'search', 'OrganizationAffiliation');
        const { matches, includes } = await reader.search('OrganizationAffiliation', [
          ['primary-organization', `Organization/${call.id}`],
          ['_include', 'OrganizationAffiliation:participating-organization'],
        ]);
        const partners = new Map(includes.map((o) => [String(o.id), o]));
        input = {
          consortium: org,
          path: 'Organization',
          affiliations: matches.map((a) => ({ resource: a, partner: partners.get(refOf(a.participatingOrganization, ctx.baseUrl)?.id ?? '') })),
        };
      } else {
        input = await consortiumFromBundle(call.body, ctx, reader, pre);
      }
      const requested = param(call, 'call') ?? callOf(input.consortium);
      const rules = engine.book.consortiumRules(requested);
      if (!rules) {
        throw new FhirError(422, operationOutcome([textIssue('error', 'not-found', MSG.unknownCall, lang(ctx), { call: requested, known: engine.book.calls().join(', ') })]));
      }
      const others = await registeredConsortia(reader);
      const issues = evaluateConsortium(input, rules, others, { data: engine.data, displays: engine.displays, lang: lang(ctx), day: today() });
      const header = textIssue('information', 'informational', MSG.rulesApplied, lang(ctx), { title: rules.title[lang(ctx)], url: rules.url, version: rules.version });
      return { status: 200, headers: {}, body: operationOutcome([header, ...bySeverity([...pre, ...issues])]) };
    },
  };

  /** The consortium, its partnerships and partners from a Bundle; partners not in it are read from the store. */
  async function consortiumFromBundle(body: unknown, ctx: RequestContext, reader: PolicyReader, pre: OperationOutcomeIssue[]): Promise<ConsortiumInput> {
    if (!isObj(body) || body.resourceType !== 'Bundle') throw new FhirError(400, operationOutcome([textIssue('error', 'invalid', MSG.bundleRequired, lang(ctx))]));
    pre.push(...withoutNarrativeAdvice(deps.validator.validate(body, { lang: lang(ctx) })));
    const entries = arr(body.entry)
      .map((e, i) => ({ e: isObj(e) ? e : {}, i }))
      .filter(({ e }) => isObj(e.resource))
      .map(({ e, i }) => ({ resource: e.resource as Obj, fullUrl: str(e.fullUrl), index: i }));
    const consortia = entries.filter((x) => x.resource.resourceType === 'Organization' && isConsortium(x.resource));
    if (consortia.length !== 1) throw new FhirError(400, operationOutcome([textIssue('error', 'invalid', MSG.oneConsortium, lang(ctx), { count: consortia.length })]));
    const consortium = consortia[0];
    const keyOf = (x: { resource: Obj; fullUrl?: string }) => [x.fullUrl, x.resource.id ? `${String(x.resource.resourceType)}/${String(x.resource.id)}` : undefined].filter(Boolean) as string[];
    const byKey = new Map<string, Obj>();
    for (const x of entries) for (const k of keyOf(x)) byKey.set(k, x.resource);
    const resolveKey = (reference: unknown): string | undefined => {
      if (!isObj(reference) || typeof reference.reference !== 'string') return undefined;
      const local = refOf(reference, ctx.baseUrl);
      return local ? `${local.type}/${local.id}` : reference.reference;
    };
    const consortiumKeys = new Set(keyOf(consortium));
    const affiliations = entries.filter((x) => x.resource.resourceType === 'OrganizationAffiliation' && consortiumKeys.has(resolveKey(x.resource.organization) ?? ''));
    const missing = new Set<string>();
    for (const a of affiliations) {
      const key = resolveKey(a.resource.participatingOrganization);
      if (key && !byKey.has(key)) missing.add(key);
    }
    const stored = await reader.byIds(
      'Organization',
      [...missing].filter((k) => k.startsWith('Organization/')).map((k) => k.slice('Organization/'.length)),
    );
    for (const o of stored) byKey.set(`Organization/${String(o.id)}`, o);
    for (const a of affiliations) {
      const key = resolveKey(a.resource.participatingOrganization);
      if (key && !byKey.has(key)) {
        pre.push(textIssue('warning', 'not-found', MSG.partnerMissing, lang(ctx), { reference: key }, [`Bundle.entry[${a.index}].resource.participatingOrganization`]));
      }
    }
    return {
      consortium: consortium.resource,
      path: `Bundle.entry[${consortium.index}].resource`,
      affiliations: affiliations.map((a) => ({ resource: a.resource, partner: byKey.get(resolveKey(a.resource.participatingOrganization) ?? '') })),
    };
  }

  /** A stored PlanDefinition with this id, else the built-in guideline of that id. */
  async function guidelineById(reader: PolicyReader, id: string): Promise<Guideline | undefined> {
    const stored = await reader.read('PlanDefinition', id);
    if (stored) return compileGuideline(stored);
    return engine.guidelines.find((g) => g.id === id);
  }

  /** The guideline of a canonical (url or url|version): a stored PlanDefinition, else a built-in one. */
  async function guidelineByCanonical(reader: PolicyReader, canonical: string): Promise<Guideline | undefined> {
    const [url, version] = canonical.split('|');
    const { matches } = await reader.search('PlanDefinition', [['url', url]]);
    const stored = matches.find((p) => !version || p.version === version) ?? matches[0];
    if (stored) return compileGuideline(stored);
    const builtIn = engine.guidelines.filter((g) => g.url === url);
    return builtIn.find((g) => !version || g.version === version) ?? builtIn[0];
  }

  const apply: OperationDef = {
    name: 'apply',
    scopes: ['instance'],
    types: ['PlanDefinition'],
    idempotent: true,
    definition: 'http://hl7.org/fhir/OperationDefinition/PlanDefinition-apply',
    documentation:
      'Applies a multidisciplinary guideline to a patient (subject=Patient/{id}): a draft CarePlan that instantiates it, with its activities and the patient\'s active care team (or a contained proposed one); nothing is stored',
    async handler(ctx, call) {
      await deps.policy.checkInteraction(ctx, 'operation', 'PlanDefinition');
      const subject = param(call, 'subject');
      const patientRef = subject ? refOf({ reference: subject }, ctx.baseUrl) : undefined;
      if (!patientRef || patientRef.type !== 'Patient') throw badRequest(localize(MSG.subjectRequired, lang(ctx)), 'subject');
      const practitioner = param(call, 'practitioner');
      if (practitioner !== undefined && !/^Practitioner(Role)?\/[A-Za-z0-9\-.]{1,64}$/.test(practitioner)) {
        throw badRequest('practitioner must be a reference such as Practitioner/{id}', 'practitioner');
      }
      const reader = new PolicyReader(deps, ctx, call.session ?? deps.store.reader());
      const guideline = await guidelineById(reader, call.id!);
      if (!guideline) throw notFound(localize(MSG.guidelineUnknown, lang(ctx), { id: call.id, known: engine.guidelines.map((g) => g.id).join(', ') }));
      const patient = await reader.read('Patient', patientRef.id);
      if (!patient) throw notFound(localize(MSG.patientUnknown, lang(ctx), { id: patientRef.id }));
      const day = today();
      const { matches: teams } = await reader.search('CareTeam', [
        ['subject', `Patient/${patientRef.id}`],
        ['status', 'active'],
      ]);
      const current = teams.filter((t) => periodCovers(t.period, day));
      const participants = await Promise.all(current.map(async (t) => ({ id: String(t.id), participants: await teamParticipants(reader, [t], day) })));
      const { matches: conditions } = await reader.search('Condition', [['subject', `Patient/${patientRef.id}`]]);
      const plan = applyGuideline(guideline, { patientId: patientRef.id, teams: participants, conditions, practitioner, lang: lang(ctx), displays: engine.displays, day });
      const accessed = [{ type: 'Patient', id: patientRef.id }, ...current.map((t) => ({ type: 'CareTeam', id: String(t.id) })), ...conditions.map((c) => ({ type: 'Condition', id: String(c.id) }))];
      return { status: 200, headers: {}, body: plan, accessed };
    },
  };

  const gaps: OperationDef = {
    name: 'gaps',
    scopes: ['instance'],
    types: ['CarePlan'],
    idempotent: true,
    definition: 'https://fhir.integrated-care.be/OperationDefinition/CarePlan-gaps',
    documentation:
      'The disciplines and activities that the guideline a CarePlan instantiates requires and that the plan\'s care team and activities lack, as an OperationOutcome (one information issue when nothing is missing)',
    async handler(ctx, call) {
      await deps.policy.checkInteraction(ctx, 'operation', 'CarePlan');
      const reader = new PolicyReader(deps, ctx, call.session ?? deps.store.reader());
      const plan = await reader.read('CarePlan', call.id!);
      if (!plan) throw notFound(localize(MSG.planUnknown, lang(ctx), { id: call.id }));
      const canonicals = arr(plan.instantiatesCanonical).filter((c): c is string => typeof c === 'string');
      const guidelines = (await Promise.all(canonicals.map((c) => guidelineByCanonical(reader, c)))).filter((g): g is Guideline => !!g);
      if (!guidelines.length) {
        throw new FhirError(422, operationOutcome([textIssue('error', 'business-rule', MSG.planNoGuideline, lang(ctx), { id: call.id, canonicals: canonicals.join(', ') || '-' }, ['CarePlan.instantiatesCanonical'])]));
      }
      const contained = new Map(arr(plan.contained).filter(isObj).map((c) => [`#${String(c.id)}`, c]));
      const teams: Obj[] = [];
      for (const ref of arr(plan.careTeam).filter(isObj)) {
        const reference = str(ref.reference) ?? '';
        if (contained.has(reference)) teams.push(contained.get(reference)!);
        const local = refOf(ref, ctx.baseUrl);
        if (local?.type === 'CareTeam') {
          const team = await reader.read('CareTeam', local.id);
          if (team) teams.push(team);
        }
      }
      const day = today();
      const participants = await teamParticipants(reader, teams, day);
      const issues = guidelines.flatMap((g) => guidelineGaps(g, plan, participants, { lang: lang(ctx), displays: engine.displays }));
      const accessed = [{ type: 'CarePlan', id: call.id! }, ...teams.filter((t) => t.resourceType === 'CareTeam' && !contained.has(`#${String(t.id)}`)).map((t) => ({ type: 'CareTeam', id: String(t.id) }))];
      return { status: 200, headers: {}, body: operationOutcome(issues), accessed };
    },
  };

  return [checkConsortium, apply, gaps];
}
