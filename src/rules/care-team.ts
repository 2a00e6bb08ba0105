import type { OperationOutcomeIssue } from 'fhir/r4.js';
import type { Language } from '../i18n/language.js';
import type { CodeDisplays } from './code-displays.js';
import { bySeverity, formatList, ruleIssue } from './issues.js';
import { isObj, periodEnded, refOf, str, type Obj } from './model.js';
import type { CareTeamRules, CompiledRule } from './rule-book.js';

/** What the rules know of one CareTeam.participant. */
export interface ParticipantFacts {
  index: number;
  member?: { type: string; id: string };
  /** For messages: the member's display or reference, or the role when there is no member. */
  label: string;
  /** `system|code` of participant.role, and of the PractitionerRole when the member is one. */
  roles: string[];
  hasPeriod: boolean;
  ended: boolean;
  /** Ids of the Organizations the participant works for (onBehalfOf, the member, its roles). */
  organizations: string[];
}

/** The patient's consortium, as far as the care-team rules need it. */
export interface TeamConsortium {
  id: string;
  name: string;
  /** Organization ids that are current partners (and the consortium itself). */
  partners: Set<string>;
}

export interface CareTeamFacts {
  subject?: { type: string; id: string };
  participants: ParticipantFacts[];
  consortium?: TeamConsortium;
  /** The patient's municipality, for the message when no consortium covers it. */
  municipality?: string;
}

const keys = new Map<string, Map<string, string>>();

/**
 * `system|code`, the same string object each time: a care team repeats the same few role codes,
 * and a string that is reused keeps its hash for the Map look-ups of the rules.
 */
function codeKey(system: string, code: string): string {
  let bySystem = keys.get(system);
  if (!bySystem) {
    if (keys.size > 1000) keys.clear();
    keys.set(system, (bySystem = new Map()));
  }
  let key = bySystem.get(code);
  if (key === undefined) {
    if (bySystem.size > 10_000) bySystem.clear();
    bySystem.set(code, (key = `${system}|${code}`));
  }
  return key;
}

/** Member types that are care providers (and so should work for a partner of the consortium). */
const PROVIDER_TYPES = new Set(['Practitioner', 'PractitionerRole', 'Organization']);

/**
 * The facts that come from the CareTeam alone; `roleCodes` and `memberOrganizations` add what the
 * store knows of PractitionerRoles and practitioners (see care-team-check.ts).
 */
export function participantFacts(
  team: Obj,
  day: string,
  lookup: { roleCodes(roleId: string): string[]; memberOrganizations(member: { type: string; id: string }): string[] } = { roleCodes: () => [], memberOrganizations: () => [] },
): ParticipantFacts[] {
  const participants = Array.isArray(team.participant) ? team.participant : [];
  const out: ParticipantFacts[] = new Array(participants.length);
  for (let index = 0; index < participants.length; index++) {
    const p = participants[index];
    const participant = isObj(p) ? p : {};
    const member = refOf(participant.member);
    const roles: string[] = [];
    let roleText: string | undefined;
    if (Array.isArray(participant.role)) {
      for (const r of participant.role) {
        const codings = isObj(r) ? r.coding : undefined;
        if (!Array.isArray(codings)) continue;
        for (const c of codings) {
          if (!isObj(c) || typeof c.code !== 'string') continue;
          roleText ??= str(c.display) ?? c.code;
          if (typeof c.system === 'string') roles.push(codeKey(c.system, c.code));
        }
      }
    }
    if (member?.type === 'PractitionerRole') roles.push(...lookup.roleCodes(member.id));
    let organizations: string[];
    const onBehalfOf = refOf(participant.onBehalfOf);
    if (onBehalfOf?.type === 'Organization') organizations = [onBehalfOf.id];
    else if (member?.type === 'Organization') organizations = [member.id];
    else organizations = member ? lookup.memberOrganizations(member) : [];
    const display = isObj(participant.member) ? str(participant.member.display) : undefined;
    const period = participant.period;
    out[index] = {
      index,
      member,
      label: display ?? (member ? (participant.member as Obj).reference as string : `(${roleText ?? '?'})`),
      roles,
      hasPeriod: isObj(period) && typeof period.start === 'string',
      ended: isObj(period) && period.end !== undefined && periodEnded(period, day),
      organizations,
    };
  }
  return out;
}

export interface CareTeamEvaluation {
  issues: OperationOutcomeIssue[];
}

/**
 * Checks a care team against care-team rules. `advice` turns errors into warnings (a proposed
 * team: stored, the client told what is missing). Information issues say which rules are met.
 */
export function evaluateCareTeam(
  facts: CareTeamFacts,
  rules: CareTeamRules,
  options: { lang: Language; displays: CodeDisplays; advice: boolean; problemsOnly?: boolean },
): OperationOutcomeIssue[] {
  const { lang } = options;
  const issues: OperationOutcomeIssue[] = [];
  // One pass over the members: who they are, which role rules each one meets (from the rules'
  // code index), who has no period, and which providers work for no partner of the consortium.
  const index = roleIndex(rules);
  const holders = new Map<CompiledRule, ParticipantFacts[]>();
  const subject = facts.subject;
  const consortium = facts.consortium;
  let filled = 0;
  let subjectTakesPart = false;
  let providers = 0;
  const withoutPeriod: ParticipantFacts[] = [];
  const notPartners: ParticipantFacts[] = [];
  for (const p of facts.participants) {
    const member = p.member;
    if (!member || p.ended) continue;
    filled++;
    if (subject && member.type === subject.type && member.id === subject.id) subjectTakesPart = true;
    if (!p.hasPeriod) withoutPeriod.push(p);
    for (const key of p.roles) {
      const hit = index.get(key);
      if (!hit) continue;
      for (const rule of hit) {
        const list = holders.get(rule);
        if (!list) holders.set(rule, [p]);
        else if (list[list.length - 1] !== p) list.push(p);
      }
    }
    if (consortium && PROVIDER_TYPES.has(member.type)) {
      providers++;
      let partner = false;
      for (const o of p.organizations) {
        if (consortium.partners.has(o)) {
          partner = true;
          break;
        }
      }
      if (!partner) notPartners.push(p);
    }
  }
  for (const rule of rules.rules) {
    const add = (met: boolean, message: string, params: () => Record<string, unknown>, expression: string[]) => {
      if (met && options.problemsOnly) return;
      const severity = met ? 'information' : options.advice && rule.severity === 'error' ? 'warning' : rule.severity;
      issues.push(ruleIssue(rules, rule, lang, { met, message, params: params(), expression, severity }));
    };
    switch (rule.type) {
      case 'subject-participant':
        add(subjectTakesPart, subjectTakesPart ? 'met' : 'notMet', () => ({}), ['CareTeam.participant']);
        break;
      case 'role': {
        const found = holders.get(rule) ?? [];
        const met = found.length >= rule.min;
        add(met, met ? 'met' : 'notMet', () => ({ count: found.length, min: rule.min, roles: roleNames(rule, options), members: formatList(found.map((p) => p.label), lang) }), [
          'CareTeam.participant',
        ]);
        break;
      }
      case 'participant-period':
        for (const p of withoutPeriod) add(false, 'notMet', () => ({ participant: p.label }), [`CareTeam.participant[${p.index}].period`]);
        if (!withoutPeriod.length) add(true, 'met', () => ({ count: filled }), ['CareTeam.participant']);
        break;
      case 'consortium-partner': {
        if (!consortium) {
          add(false, 'noConsortium', () => ({ municipality: facts.municipality ?? '?' }), ['CareTeam.subject']);
          break;
        }
        for (const p of notPartners) {
          if (!p.organizations.length) add(false, 'noOrganization', () => ({ participant: p.label, consortium: consortium.name }), [`CareTeam.participant[${p.index}]`]);
          else {
            add(false, 'notMet', () => ({ participant: p.label, organization: p.organizations.map((o) => `Organization/${o}`).join(', '), consortium: consortium.name }), [
              `CareTeam.participant[${p.index}]`,
            ]);
          }
        }
        if (!notPartners.length) add(true, 'met', () => ({ count: providers, consortium: consortium.name }), ['CareTeam.participant']);
        break;
      }
    }
  }
  return issues.length > 1 ? bySeverity(issues) : issues;
}

/** Role rules by the codes they accept, per rules file (built once). */
const roleIndexes = new WeakMap<CareTeamRules, Map<string, CompiledRule[]>>();

function roleIndex(rules: CareTeamRules): Map<string, CompiledRule[]> {
  let index = roleIndexes.get(rules);
  if (!index) {
    index = new Map();
    for (const rule of rules.rules) if (rule.type === 'role') for (const key of rule.codes) index.set(key, [...(index.get(key) ?? []), rule]);
    roleIndexes.set(rules, index);
  }
  return index;
}

function roleNames(rule: CompiledRule, options: { lang: Language; displays: CodeDisplays }): string {
  return rule.codings.map((c) => options.displays.display(c.system, c.code, options.lang)).join(' / ');
}
