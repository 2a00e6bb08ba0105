import type { OperationOutcomeIssue } from 'fhir/r4.js';
import { localize, type Language, type Localized } from '../i18n/language.js';
import type { CompiledRule, RulesFile } from './rule-book.js';

type IssueCode = OperationOutcomeIssue['code'];

const NUMBER_LOCALES: Record<Language, string> = { en: 'en-GB', nl: 'nl-BE', fr: 'fr-BE' };
const formatters = new Map<Language, Intl.NumberFormat>();

/** 68412 as a reader of the language writes it: 68,412 / 68.412 / 68 412. */
export function formatNumber(n: number, lang: Language): string {
  let f = formatters.get(lang);
  if (!f) {
    f = new Intl.NumberFormat(NUMBER_LOCALES[lang], { maximumFractionDigits: 0 });
    formatters.set(lang, f);
  }
  return f.format(n);
}

const MORE: Localized = { en: 'and {n} more', nl: 'en nog {n}', fr: 'et {n} autres' };

/** A list of names for a message: the first `max`, then how many more. */
export function formatList(names: string[], lang: Language, max = 8): string {
  if (names.length <= max) return names.join(', ');
  return `${names.slice(0, max).join(', ')} ${localize(MORE, lang, { n: names.length - max })}`;
}

/**
 * One issue of a rule: information when it is met, the rule's severity when not. details.coding
 * names the rule (the rules file's url and version, the rule id) so that software can act on it.
 */
export function ruleIssue(
  file: RulesFile,
  rule: CompiledRule,
  lang: Language,
  outcome: { met: boolean; message: string; params?: Record<string, unknown>; expression?: string[]; code?: IssueCode; severity?: OperationOutcomeIssue['severity'] },
): OperationOutcomeIssue {
  const text = localize(rule.messages[outcome.message], lang, outcome.params);
  const severity = outcome.severity ?? (outcome.met ? 'information' : rule.severity);
  const issue: OperationOutcomeIssue = {
    severity,
    code: outcome.code ?? (severity === 'information' ? 'informational' : 'business-rule'),
    details: { coding: [{ system: file.url, version: file.version, code: rule.id, display: rule.title[lang] }], text },
    diagnostics: text,
  };
  if (outcome.expression?.length) issue.expression = outcome.expression;
  return issue;
}

/** A plain issue (not tied to one rule) with a localized text. */
export function textIssue(severity: OperationOutcomeIssue['severity'], code: IssueCode, text: Localized, lang: Language, params?: Record<string, unknown>, expression?: string[]): OperationOutcomeIssue {
  const t = localize(text, lang, params);
  const issue: OperationOutcomeIssue = { severity, code, details: { text: t }, diagnostics: t };
  if (expression?.length) issue.expression = expression;
  return issue;
}

/** Errors first, then warnings, then information; the order within each is kept. */
export function bySeverity(issues: OperationOutcomeIssue[]): OperationOutcomeIssue[] {
  const rank = { fatal: 0, error: 0, warning: 1, information: 2 } as const;
  return issues
    .map((issue, i) => ({ issue, i }))
    .sort((a, b) => rank[a.issue.severity] - rank[b.issue.severity] || a.i - b.i)
    .map((x) => x.issue);
}
