import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OperationOutcomeIssue } from 'fhir/r4.js';
import type { Language } from '../i18n/language.js';
import type { ParticipantFacts } from './care-team.js';
import type { CodeDisplays } from './code-displays.js';
import { formatList, textIssue } from './issues.js';
import { MSG } from './messages.js';
import { arr, codingKeys, isObj, str, type Obj } from './model.js';

const TRANSLATION = 'http://hl7.org/fhir/StructureDefinition/translation';

/** A string element in the language asked: its translation extension (nl, fr), else the element itself. */
export function translated(element: Obj, name: string, lang: Language): string {
  const base = str(element[name]) ?? '';
  const ext = isObj(element[`_${name}`]) ? (element[`_${name}`] as Obj).extension : undefined;
  for (const t of arr(ext)) {
    if (!isObj(t) || t.url !== TRANSLATION) continue;
    const parts = arr(t.extension).filter(isObj);
    const code = str(parts.find((p) => p.url === 'lang')?.valueCode);
    if (code && code.slice(0, 2) === lang) return str(parts.find((p) => p.url === 'content')?.valueString) ?? base;
  }
  return base;
}

export interface Coding {
  system: string;
  code: string;
  display?: string;
}

export interface GuidelineActivity {
  id: string;
  action: Obj;
  /** `system|code` of every coding of action.code: a plan activity with any of them covers it. */
  keys: Set<string>;
  codings: Coding[];
  required: boolean;
  /** `system|code` of the roles of its practitioner and related-person participants. */
  roles: string[];
  /** The patient takes part. */
  patient: boolean;
}

export interface GuidelineDiscipline {
  key: string;
  coding: Coding;
  required: boolean;
  /** The activities it takes part in. */
  activities: GuidelineActivity[];
}

/** A PlanDefinition read once: the disciplines and activities it requires. */
export interface Guideline {
  resource: Obj;
  id: string;
  url: string;
  version?: string;
  canonical: string;
  /** `system|code` of the conditions it is for (useContext focus). */
  focus: Set<string>;
  activities: GuidelineActivity[];
  disciplines: GuidelineDiscipline[];
}

function codingsOf(concept: unknown): Coding[] {
  return arr(isObj(concept) ? concept.coding : undefined)
    .filter(isObj)
    .filter((c) => typeof c.system === 'string' && typeof c.code === 'string')
    .map((c) => ({ system: c.system as string, code: c.code as string, display: str(c.display) }));
}

/** Compiles a PlanDefinition: its actions (nested ones too) become activities, their participants' roles disciplines. */
export function compileGuideline(pd: Obj): Guideline {
  const activities: GuidelineActivity[] = [];
  const disciplines = new Map<string, GuidelineDiscipline>();
  const walk = (actions: unknown, parentRequired: boolean) => {
    arr(actions).forEach((a, i) => {
      if (!isObj(a)) return;
      const required = parentRequired && a.requiredBehavior !== 'could';
      const codings = arr(a.code).flatMap(codingsOf);
      const roles: string[] = [];
      let patient = false;
      for (const p of arr(a.participant).filter(isObj)) {
        if (p.type === 'patient') {
          patient = true;
          continue;
        }
        for (const c of codingsOf(p.role)) {
          const key = `${c.system}|${c.code}`;
          roles.push(key);
        }
      }
      if (codings.length) {
        const activity: GuidelineActivity = { id: str(a.id) ?? `action-${i}`, action: a, keys: new Set(codings.map((c) => `${c.system}|${c.code}`)), codings, required, roles, patient };
        activities.push(activity);
        for (const p of arr(a.participant).filter(isObj)) {
          if (p.type === 'patient') continue;
          for (const c of codingsOf(p.role)) {
            const key = `${c.system}|${c.code}`;
            const d = disciplines.get(key) ?? { key, coding: c, required: false, activities: [] };
            d.required ||= required;
            if (!d.activities.includes(activity)) d.activities.push(activity);
            disciplines.set(key, d);
          }
        }
      }
      walk(a.action, required);
    });
  };
  walk(pd.action, true);
  const focus = new Set<string>();
  for (const u of arr(pd.useContext).filter(isObj)) {
    if (isObj(u.code) && u.code.code === 'focus') for (const k of codingKeys(u.valueCodeableConcept)) focus.add(k);
  }
  const url = str(pd.url) ?? '';
  const version = str(pd.version);
  return { resource: pd, id: str(pd.id) ?? '', url, version, canonical: version ? `${url}|${version}` : url, focus, activities, disciplines: [...disciplines.values()] };
}

/** The guidelines shipped in profiles/ (PlanDefinition-*.json). */
export function loadGuidelines(profilesDir: string): Guideline[] {
  return readdirSync(profilesDir)
    .filter((f) => f.startsWith('PlanDefinition-') && f.endsWith('.json'))
    .sort()
    .map((f) => compileGuideline(JSON.parse(readFileSync(join(profilesDir, f), 'utf8')) as Obj));
}

export interface ApplyInput {
  patientId: string;
  /** The patient's active care teams, with the facts of their participants. */
  teams: { id: string; participants: ParticipantFacts[] }[];
  /** The patient's conditions (active ones are matched with the guideline's focus). */
  conditions: Obj[];
  practitioner?: string;
  lang: Language;
  displays: CodeDisplays;
  day: string;
}

const CAREPLAN_CATEGORY = { system: 'http://snomed.info/sct', code: '736271009', display: 'Outpatient care plan' };

/**
 * $apply: a draft CarePlan that instantiates the guideline for the patient. Each action becomes
 * an activity (code, description in the reader's language, timing, and as performers the care
 * team members who hold one of its roles); careTeam is the patient's active care team, or, when
 * there is none, a contained proposed CareTeam with the patient and the roles still to be filled.
 */
export function applyGuideline(g: Guideline, input: ApplyInput): Obj {
  const { lang } = input;
  const subject = { reference: `Patient/${input.patientId}` };
  const members = input.teams.flatMap((t) => t.participants).filter((p) => p.member && !p.ended);
  const activity = g.activities.map((a) => {
    const action = a.action;
    const performers = new Map<string, { reference: string }>();
    for (const p of members) {
      if (p.member!.type === 'Patient' || p.member!.type === 'RelatedPerson') continue;
      if (a.roles.some((r) => p.roles.includes(r))) performers.set(`${p.member!.type}/${p.member!.id}`, { reference: `${p.member!.type}/${p.member!.id}` });
    }
    if (a.patient) performers.set(subject.reference, subject);
    const code: Obj = { coding: a.codings.map((c) => ({ ...c, display: input.displays.display(c.system, c.code, lang, c.display) })) };
    const title = translated(action, 'title', lang);
    if (title) code.text = title;
    const detail: Obj = { kind: 'ServiceRequest', code, status: 'not-started' };
    const description = translated(action, 'description', lang);
    if (description) detail.description = description;
    if (isObj(action.timingTiming)) detail.scheduledTiming = action.timingTiming;
    if (performers.size) detail.performer = [...performers.values()];
    return { detail };
  });
  const plan: Obj = {
    resourceType: 'CarePlan',
    status: 'draft',
    intent: 'plan',
    instantiatesCanonical: [g.canonical],
    title: translated(g.resource, 'title', lang) || str(g.resource.name) || g.id,
    description: translated(g.resource, 'description', lang) || undefined,
    category: [{ coding: [CAREPLAN_CATEGORY] }],
    subject,
    period: { start: input.day },
    created: input.day,
  };
  if (plan.description === undefined) delete plan.description;
  if (input.practitioner) plan.author = { reference: input.practitioner };
  if (input.teams.length) {
    plan.careTeam = input.teams.map((t) => ({ reference: `CareTeam/${t.id}` }));
  } else {
    const team = {
      resourceType: 'CareTeam',
      id: 'proposed-team',
      status: 'proposed',
      name: localizedText(MSG.proposedTeam, lang, { guideline: translated(g.resource, 'title', lang) }),
      subject,
      participant: [
        { role: [{ coding: [{ system: 'https://www.ehealth.fgov.be/standards/fhir/core/CodeSystem/cd-hcparty', code: 'patient', display: 'patient' }] }], member: subject },
        ...g.disciplines.filter((d) => d.required).map((d) => ({ role: [{ coding: [{ ...d.coding, display: input.displays.display(d.coding.system, d.coding.code, lang, d.coding.display) }] }] })),
      ],
    };
    plan.contained = [team];
    plan.careTeam = [{ reference: '#proposed-team' }];
  }
  const addresses = input.conditions
    .filter((c) => codingKeys(c.clinicalStatus).some((k) => k.endsWith('|active') || k.endsWith('|recurrence') || k.endsWith('|relapse')))
    .filter((c) => codingKeys(c.code).some((k) => g.focus.has(k)))
    .map((c) => ({ reference: `Condition/${String(c.id)}` }));
  if (addresses.length) plan.addresses = addresses;
  plan.activity = activity;
  return plan;
}

function localizedText(text: Record<Language, string>, lang: Language, params: Record<string, string>): string {
  return (text[lang] ?? text.en).replace(/\{(\w+)\}/g, (m, k: string) => params[k] ?? m);
}

/** Activity codes (system|code) that a plan has, leaving out cancelled, stopped and entered-in-error ones. */
export function planActivityKeys(plan: Obj): Set<string> {
  const keys = new Set<string>();
  for (const a of arr(plan.activity).filter(isObj)) {
    const detail = isObj(a.detail) ? a.detail : undefined;
    if (!detail || ['cancelled', 'stopped', 'entered-in-error'].includes(str(detail.status) ?? '')) continue;
    for (const k of codingKeys(detail.code)) keys.add(k);
  }
  return keys;
}

/**
 * $gaps: the disciplines and activities that the guideline requires and that the plan's care team
 * (participant roles, including the codes of PractitionerRole members) and activities lack. One
 * information issue when nothing is missing.
 */
export function guidelineGaps(g: Guideline, plan: Obj, participants: ParticipantFacts[], options: { lang: Language; displays: CodeDisplays }): OperationOutcomeIssue[] {
  const { lang, displays } = options;
  const title = translated(g.resource, 'title', lang);
  const roles = new Set<string>();
  for (const p of participants) if (p.member && !p.ended) for (const r of p.roles) roles.add(r);
  const activityKeys = planActivityKeys(plan);
  const issues: OperationOutcomeIssue[] = [];
  const activityTitle = (a: GuidelineActivity) => translated(a.action, 'title', lang);
  for (const d of g.disciplines) {
    if (roles.has(d.key)) continue;
    const discipline = displays.display(d.coding.system, d.coding.code, lang, d.coding.display);
    const issue = textIssue(d.required ? 'warning' : 'information', 'incomplete', d.required ? MSG.gapDiscipline : MSG.gapDisciplineOptional, lang, {
      discipline,
      guideline: title,
      activities: formatList(d.activities.map(activityTitle), lang),
    }, ['CarePlan.careTeam']);
    issue.details!.coding = [{ system: d.coding.system, code: d.coding.code, display: discipline }];
    issues.push(issue);
  }
  for (const a of g.activities) {
    if ([...a.keys].some((k) => activityKeys.has(k))) continue;
    const main = a.codings[0];
    const issue = textIssue(a.required ? 'warning' : 'information', 'incomplete', a.required ? MSG.gapActivity : MSG.gapActivityOptional, lang, {
      activity: activityTitle(a),
      code: a.codings.map((c) => c.code).join(' / '),
      guideline: title,
    }, ['CarePlan.activity']);
    issue.details!.coding = a.codings.map((c) => ({ system: c.system, code: c.code, display: c === main ? activityTitle(a) : c.display }));
    issues.push(issue);
  }
  if (!issues.some((i) => i.severity === 'warning')) issues.unshift(textIssue('information', 'informational', MSG.noGaps, lang, { guideline: title }));
  return issues;
}
