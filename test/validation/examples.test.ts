import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { RESOURCE_TYPES } from '../../src/fhir/resource-types.js';
import type { ResourceValidator } from '../../src/validation/index.js';
import { errors, expectIssue, expectNoErrors, validator } from './helpers.js';

let v: ResourceValidator;
beforeAll(async () => {
  v = await validator();
});

const examplesDir = dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.examples/package.json'));
const supported = new Set<string>([...RESOURCE_TYPES, 'Bundle']);

function officialExamples(): Array<[string, Record<string, unknown>]> {
  const out: Array<[string, Record<string, unknown>]> = [];
  for (const file of readdirSync(examplesDir).sort()) {
    if (!file.endsWith('.json') || file.startsWith('.') || file === 'package.json') continue;
    const resource = JSON.parse(readFileSync(join(examplesDir, file), 'utf8'));
    if (supported.has(resource.resourceType)) out.push([file, resource]);
  }
  return out;
}

/**
 * Official examples with genuine errors, which the HL7 validator reports as well. Each is listed
 * with every error expression it has, so that a new false alarm in these files still fails the test.
 */
const GENUINE_ERRORS: Record<string, { reason: RegExp; expressions: string[] }> = {
  // entry[2] has fullUrl .../Patient/pat12 but the resource id is pat2: "the fullUrl SHALL NOT disagree with the id in the resource".
  'Bundle-10bb101f-a121-4264-a920-67be9cb82c74.json': { reason: /differs from the resource id 'pat2'/, expressions: ['Bundle.entry[2].fullUrl'] },
  // The same Bundle again, with the Patient as entry[3].
  'Bundle-3a0707d3-549e-4467-b8b8-5a2ab3800efe.json': { reason: /differs from the resource id 'pat2'/, expressions: ['Bundle.entry[3].fullUrl'] },
  // fullUrls .../Observation/lri-gramstain1 etc. for resources with id gramstain1 etc.
  'Bundle-lri-example.json': {
    reason: /ends in an id that differs from the resource id/,
    expressions: Array.from({ length: 16 }, (_, i) => `Bundle.entry[${i + 1}].fullUrl`),
  },
  // The data element Bundle lists the Quantity data elements twice under the same fullUrl (bdl-7).
  'Bundle-dataelements.json': { reason: /occurs more than once in the Bundle/, expressions: Array.from({ length: 12 }, (_, i) => `Bundle.entry[${6769 + i}].fullUrl`) },
};

describe('official R4 examples against the base specification', () => {
  const examples = officialExamples();

  it('covers every supported type and Bundle', () => {
    const types = new Set(examples.map(([, r]) => r.resourceType));
    expect([...supported].filter((t) => !types.has(t))).toEqual([]);
    expect(examples.length).toBeGreaterThan(150);
  });

  it.each(examples.map(([file, resource]) => [file, resource] as const))('%s has no false alarm', (file, resource) => {
    const found = errors(v.validate(resource, { baseOnly: true }));
    const known = GENUINE_ERRORS[file];
    if (!known) {
      expectNoErrors(found);
      return;
    }
    expect(found.map((i) => i.expression?.[0]).sort()).toEqual([...known.expressions].sort());
    for (const i of found) expect(i.diagnostics).toMatch(known.reason);
  });
});

const beDir = new URL('./fixtures/be/', import.meta.url).pathname;
const be = (file: string) => JSON.parse(readFileSync(join(beDir, file), 'utf8'));

describe('HL7 Belgium examples', () => {
  it('Patient patient1 (patient-care IG) is valid; be-patient is not available here, so it is named as unchecked', () => {
    const issues = v.validate(be('Patient-patient1.json'), { baseOnly: true });
    expectNoErrors(issues);
    expectIssue(issues, 'warning', 'not-found', 'Patient', /be-patient is unknown/);
  });

  it('Patient patient1 meets ICR Patient too; its placeholder SSIN 99999999999 only fails the check digit (a warning)', () => {
    const issues = v.validate(be('Patient-patient1.json'));
    expectNoErrors(issues);
    expectIssue(issues, 'warning', 'invariant', 'Patient.identifier[0]', /icr-ssin-2/);
  });

  it('CareTeam dzop-team-0002 is valid against be-careteam, which lets roles be text', () => {
    expect(v.validate(be('CareTeam-dzop-team-0002.json'), { baseOnly: true })).toEqual([]);
  });

  it('CareTeam dzop-team-0002 does not meet ICR CareTeam: its roles are text, not CD-HCPARTY codes', () => {
    const issues = errors(v.validate(be('CareTeam-dzop-team-0002.json')));
    expect(issues.map((i) => i.expression?.[0])).toEqual([0, 1, 2, 3, 4].map((i) => `CareTeam.participant[${i}].role[0]`));
    for (const i of issues) expect(i.code).toBe('code-invalid');
  });

  it('RelatedPerson relatedperson is valid; its SSIN 79121137740 fails the check digit, which is a warning', () => {
    const issues = v.validate(be('RelatedPerson-relatedperson.json'), { baseOnly: true, profiles: ['https://fhir.integrated-care.be/StructureDefinition/icr-relatedperson'] });
    expectIssue(issues, 'warning', 'invariant', 'RelatedPerson.identifier[0]', /icr-ssin-2/);
    expectIssue(issues, 'warning', 'extension', 'RelatedPerson.relationship[1].coding[0].extension[0]', /be-ext-period is unknown/);
    // ICR RelatedPerson asks for a name, which this example leaves out.
    expectIssue(issues, 'error', 'required', 'RelatedPerson.name', /by ICR RelatedPerson/);
    expect(errors(issues)).toHaveLength(1);
  });
});
