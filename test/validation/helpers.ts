import type { OperationOutcomeIssue } from 'fhir/r4.js';
import { expect } from 'vitest';
import { createValidator, type ResourceValidator, type ValidatorConfig } from '../../src/validation/index.js';

/** One validator per test file (module state is per file in vitest), compiled once. */
const validators = new Map<string, Promise<ResourceValidator>>();

export function validator(config: ValidatorConfig = {}): Promise<ResourceValidator> {
  const key = JSON.stringify(config);
  let v = validators.get(key);
  if (!v) {
    v = createValidator(config);
    validators.set(key, v);
  }
  return v;
}

export const EXTRA_PROFILES = new URL('./fixtures/extra-profiles', import.meta.url).pathname;

export function errors(issues: OperationOutcomeIssue[]): OperationOutcomeIssue[] {
  return issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
}

/** Issues other than the narrative best-practice warning (dom-6), which most hand-written test resources trigger. */
export function relevant(issues: OperationOutcomeIssue[]): OperationOutcomeIssue[] {
  return issues.filter((i) => !(i.code === 'invariant' && i.severity === 'warning' && /\bdom-6\b/.test(i.diagnostics ?? '')));
}

/**
 * Asserts that exactly one issue at `expression` has this severity, code (and message, when
 * given: several invariants can fail at one place), and returns it.
 */
export function expectIssue(
  issues: OperationOutcomeIssue[],
  severity: OperationOutcomeIssue['severity'],
  code: OperationOutcomeIssue['code'],
  expression: string,
  message?: RegExp,
): OperationOutcomeIssue {
  const matching = issues.filter(
    (i) => i.severity === severity && i.code === code && i.expression?.[0] === expression && (!message || message.test(i.diagnostics ?? '')),
  );
  expect(matching, `expected one ${severity}/${code} at ${expression} in ${JSON.stringify(issues.map((i) => [i.severity, i.code, i.expression?.[0], i.diagnostics]), null, 1)}`).toHaveLength(1);
  const found = matching[0];
  expect(found.details?.text).toBe(found.diagnostics);
  expect(found.diagnostics?.startsWith(expression + ': ')).toBe(true);
  return found;
}

export function expectNoErrors(issues: OperationOutcomeIssue[]): void {
  expect(errors(issues).map((i) => `${i.expression?.[0]}: ${i.diagnostics}`)).toEqual([]);
}

export const div = (text = 'narrative') => ({ status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml"><p>${text}</p></div>` });
