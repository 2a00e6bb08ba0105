import type { OperationOutcomeIssue } from 'fhir/r4.js';
import type { Language } from '../i18n/language.js';
import type { WriteCheck } from '../interactions/service-deps.js';
import type { ResourceStore, StoreSession } from '../store/resource-store.js';
import { evaluateCareTeam, participantFacts, type CareTeamFacts, type TeamConsortium } from './care-team.js';
import type { CodeDisplays } from './code-displays.js';
import { isCurrent, type DirectoryCache } from './directory.js';
import { arr, isObj, periodCovers, refOf, str, today, type Obj } from './model.js';
import type { CareTeamRules, RuleBook } from './rule-book.js';
import type { MunicipalityData } from './statbel.js';

export interface CareTeamCheckDeps {
  book: RuleBook;
  data: MunicipalityData;
  displays: CodeDisplays;
  /** The directory cache of the store a session belongs to. */
  directory: (store: ResourceStore) => DirectoryCache;
}

/**
 * Gathers the facts of a CareTeam: the patient (one read, for the home municipality) and the
 * directory (PractitionerRoles, partnerships and consortia, cached: see DirectoryCache), and finds
 * the patient's consortium.
 */
export async function careTeamFacts(session: StoreSession, team: Obj, cache: DirectoryCache, data: MunicipalityData, lang: Language): Promise<{ facts: CareTeamFacts; call?: string }> {
  const day = today();
  const now = Date.now();
  const subject = refOf(team.subject);
  const [patientRow, directory] = await Promise.all([
    subject?.type === 'Patient' ? session.read('Patient', subject.id) : Promise.resolve(undefined),
    cache.get(session),
  ]);
  const patient = patientRow && !patientRow.deleted && patientRow.json ? (JSON.parse(patientRow.json) as Obj) : undefined;
  const lookup = {
    roleCodes: (id: string) => directory.roles.get(id)?.codes ?? [],
    memberOrganizations: (member: { type: string; id: string }) => {
      if (member.type === 'PractitionerRole') {
        const o = directory.roles.get(member.id)?.organization;
        return o ? [o] : [];
      }
      if (member.type !== 'Practitioner') return [];
      const orgs: string[] = [];
      for (const r of directory.rolesByPractitioner.get(member.id) ?? []) if (r.organization && isCurrent(r, now)) orgs.push(r.organization);
      return orgs;
    },
  };
  const participants = participantFacts(team, day, lookup);

  // The patient's consortium: the one the team names as managing organisation, else those whose
  // region holds the patient's home municipality.
  const managing = arr(team.managingOrganization).map((r) => refOf(r)).filter((r) => r?.type === 'Organization').map((r) => r!.id);
  let chosen = managing.filter((id) => directory.consortia.get(id)?.active);
  let municipality: string | undefined;
  if (!chosen.length) {
    const address = homeAddress(patient);
    const nis = address ? data.locate(str(address.postalCode), str(address.city)) : undefined;
    municipality = nis ? data.name(nis, lang) : (str(address?.city) ?? str(address?.postalCode));
    if (nis) chosen = [...directory.consortia.values()].filter((c) => c.active && c.parts.has(nis)).map((c) => c.id).sort();
  }
  let consortium: TeamConsortium | undefined;
  if (chosen.length) {
    const ids = new Set(chosen);
    const partners = new Set(chosen);
    for (const p of participants) {
      for (const org of p.organizations) {
        for (const a of directory.affiliationsByPartner.get(org) ?? []) if (a.consortium && ids.has(a.consortium) && isCurrent(a, now)) partners.add(org);
      }
    }
    consortium = { id: chosen[0], name: chosen.map((id) => directory.consortia.get(id)!.name).join(' / '), partners };
  }
  return {
    facts: { subject, participants, consortium, municipality },
    call: consortium ? directory.consortia.get(consortium.id)!.call : undefined,
  };
}

/** The address that places a patient: the current home address, else the first current one. */
function homeAddress(patient: Obj | undefined): Obj | undefined {
  const day = today();
  const addresses = arr(patient?.address).filter(isObj).filter((a) => a.use !== 'old' && periodCovers(a.period, day));
  return addresses.find((a) => a.use === 'home') ?? addresses[0];
}

/**
 * The care-team rules as a write check: an active CareTeam that breaks an error rule is refused
 * (422, with every rule issue), a proposed or suspended one is stored and its gaps come back as
 * warnings; other statuses (inactive, entered-in-error) are history and not checked. Writes of
 * other types return at once.
 */
export function careTeamWriteCheck(deps: CareTeamCheckDeps): WriteCheck {
  return async (ctx, session, resource) => {
    if (resource.resourceType !== 'CareTeam') return [];
    const status = str(resource.status) ?? 'proposed';
    if (!enforcement(deps.book.defaultCareTeam, status) && !anyEnforces(deps.book, status)) return [];
    const { facts, call } = await careTeamFacts(session, resource, deps.directory(session.store), deps.data, ctx.lang);
    const rules = deps.book.careTeamRules(deps.book.consortiumRules(call) ?? undefined);
    const how = enforcement(rules, status);
    if (!how) return [];
    const issues: OperationOutcomeIssue[] = evaluateCareTeam(facts, rules, { lang: ctx.lang, displays: deps.displays, advice: how === 'advice', problemsOnly: true });
    return issues;
  };
}

function enforcement(rules: CareTeamRules, status: string): 'rules' | 'advice' | undefined {
  return rules.enforce?.[status];
}

function anyEnforces(book: RuleBook, status: string): boolean {
  return book.calls().some((call) => !!enforcement(book.careTeamRules(book.consortiumRules(call)), status));
}
