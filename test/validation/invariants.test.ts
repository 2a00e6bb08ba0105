import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { OperationOutcomeIssue } from 'fhir/r4.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { baseResourceDefinitions, baseTypeDefinitions } from '../../src/fhir/definitions.js';
import { ValidationEngine } from '../../src/validation/engine.js';
import { defaultRequiredProfiles, type ResourceValidator } from '../../src/validation/index.js';
import { nativeExpression, nativeInvariantKeys } from '../../src/validation/invariants.js';
import { defaultProfilesDir, loadRegistry, readPackageFolder } from '../../src/validation/profiles-loader.js';
import { div, expectIssue, relevant, validator } from './helpers.js';

let v: ResourceValidator;
beforeAll(async () => {
  v = await validator();
});

const base = (r: unknown) => v.validate(r, { baseOnly: true });

describe('invariants of the base specification', () => {
  it('per-1: a period ends after it starts', () => {
    const issues = base({ resourceType: 'CareTeam', text: div(), period: { start: '2026-05-01', end: '2026-04-01' } });
    expectIssue(issues, 'error', 'invariant', 'CareTeam.period', /constraint per-1 failed: If present, start SHALL have a lower value than end/);
  });

  it('per-1: dates of different precision that overlap are fine', () => {
    expect(relevant(base({ resourceType: 'CareTeam', text: div(), period: { start: '2026-05', end: '2026-05-01' } }))).toEqual([]);
    expect(relevant(base({ resourceType: 'CareTeam', text: div(), period: { start: '2026-05-01T10:00:00+02:00', end: '2026-05-01T09:30:00Z' } }))).toEqual([]);
  });

  it('pat-1: a contact has a name, telecom, address or organization', () => {
    expectIssue(base({ resourceType: 'Patient', text: div(), contact: [{ gender: 'female' }] }), 'error', 'invariant', 'Patient.contact[0]', /pat-1/);
  });

  it('org-1: an organization has an identifier or a name', () => {
    expectIssue(base({ resourceType: 'Organization', text: div(), active: true }), 'error', 'invariant', 'Organization', /org-1/);
  });

  it('org-2: an organization address is not a home address', () => {
    expectIssue(base({ resourceType: 'Organization', text: div(), name: 'x', address: [{ use: 'home', city: 'Gent' }] }), 'error', 'invariant', 'Organization.address[0]', /org-2/);
  });

  it('cpt-2: a contact point with a value has a system', () => {
    expectIssue(base({ resourceType: 'Practitioner', text: div(), telecom: [{ value: '+32 9 123 45 67' }] }), 'error', 'invariant', 'Practitioner.telecom[0]', /cpt-2/);
  });

  it('att-1: attachment data needs a content type', () => {
    expectIssue(base({ resourceType: 'Practitioner', text: div(), photo: [{ data: 'iVBORw0KGgo=' }] }), 'error', 'invariant', 'Practitioner.photo[0]', /att-1/);
  });

  it('qty-3 and sqty-1: a quantity code needs a system; a SimpleQuantity has no comparator', () => {
    const issues = base({
      resourceType: 'Goal',
      text: div(),
      lifecycleStatus: 'active',
      description: { text: 'x' },
      subject: { reference: 'Patient/1' },
      target: [{ measure: { text: 'HbA1c' }, detailQuantity: { value: 7, code: '%' } }],
    });
    expectIssue(issues, 'error', 'invariant', 'Goal.target[0].detail.ofType(Quantity)', /qty-3/);
    const simple = base({
      resourceType: 'CarePlan',
      text: div(),
      status: 'active',
      intent: 'plan',
      subject: { reference: 'Patient/1' },
      activity: [{ detail: { status: 'scheduled', dailyAmount: { value: 2, comparator: '<' } } }],
    });
    expectIssue(simple, 'error', 'invariant', 'CarePlan.activity[0].detail.dailyAmount', /sqty-1/);
  });

  it('gol-1: a goal target detail needs a measure', () => {
    const issues = base({ resourceType: 'Goal', text: div(), lifecycleStatus: 'active', description: { text: 'x' }, subject: { reference: 'Patient/1' }, target: [{ detailString: 'lower' }] });
    expectIssue(issues, 'error', 'invariant', 'Goal.target[0]', /gol-1/);
  });

  it('cpl-3: an activity has a detail or a reference, not both', () => {
    const issues = base({
      resourceType: 'CarePlan',
      text: div(),
      status: 'active',
      intent: 'plan',
      subject: { reference: 'Patient/1' },
      activity: [{ reference: { reference: 'Task/1' }, detail: { status: 'scheduled' } }],
    });
    expectIssue(issues, 'error', 'invariant', 'CarePlan.activity[0]', /cpl-3/);
  });

  it('con-4 and con-5: abatement and entered-in-error constrain the clinical status', () => {
    const abated = base({
      resourceType: 'Condition',
      text: div(),
      subject: { reference: 'Patient/1' },
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
      abatementDateTime: '2025-01-01',
    });
    expectIssue(abated, 'error', 'invariant', 'Condition', /con-4/);
    const error = base({
      resourceType: 'Condition',
      text: div(),
      subject: { reference: 'Patient/1' },
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
      verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'entered-in-error' }] },
    });
    expectIssue(error, 'error', 'invariant', 'Condition', /con-5/);
  });

  it('con-3 is a warning', () => {
    const issues = base({
      resourceType: 'Condition',
      text: div(),
      subject: { reference: 'Patient/1' },
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'problem-list-item' }] }],
    });
    expectIssue(issues, 'warning', 'invariant', 'Condition', /con-3/);
  });

  it('ppc-1: a consent has a policy or a policy rule', () => {
    const issues = base({
      resourceType: 'Consent',
      text: div(),
      status: 'active',
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    });
    expectIssue(issues, 'error', 'invariant', 'Consent', /ppc-1/);
  });

  it('ctm-1: onBehalfOf only for a practitioner member', () => {
    const issues = base({
      resourceType: 'CareTeam',
      text: div(),
      participant: [{ member: { reference: 'RelatedPerson/els' }, onBehalfOf: { reference: 'Organization/wgk' } }],
    });
    expectIssue(issues, 'error', 'invariant', 'CareTeam.participant[0]', /ctm-1/);
    const fine = base({ resourceType: 'CareTeam', text: div(), participant: [{ member: { reference: 'Practitioner/an' }, onBehalfOf: { reference: 'Organization/wgk' } }] });
    expect(relevant(fine)).toEqual([]);
  });

  it('tim-*: timing repeat rules', () => {
    const issues = base({
      resourceType: 'CarePlan',
      text: div(),
      status: 'active',
      intent: 'plan',
      subject: { reference: 'Patient/1' },
      activity: [{ detail: { status: 'scheduled', scheduledTiming: { repeat: { period: 1, duration: -2, durationUnit: 'h', timeOfDay: ['08:00:00'], when: ['MORN'] } } } }],
    });
    const path = 'CarePlan.activity[0].detail.scheduled.ofType(Timing).repeat';
    expectIssue(issues, 'error', 'invariant', path, /tim-2/);
    expect(issues.filter((i) => i.expression?.[0] === path).map((i) => /constraint (\S+)/.exec(i.diagnostics ?? '')?.[1]).sort()).toEqual(['tim-10', 'tim-2', 'tim-4']);
  });

  it('sev-1: an audit entity has a name or a query, not both', () => {
    const issues = base({
      resourceType: 'AuditEvent',
      text: div(),
      type: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110110' },
      recorded: '2026-01-01T10:00:00Z',
      agent: [{ requestor: true }],
      source: { observer: { display: 'x' } },
      entity: [{ name: 'Patient search', query: 'UGF0aWVudD9uYW1lPXg=' }],
    });
    expectIssue(issues, 'error', 'invariant', 'AuditEvent.entity[0]', /sev-1/);
  });

  it('dom-6 is a warning (best practice), not on contained resources', () => {
    const issues = base({ resourceType: 'Practitioner', name: [{ family: 'Peeters' }], contained: [{ resourceType: 'Organization', id: 'o', name: 'x' }], extension: [{ url: 'http://example.org/org', valueReference: { reference: '#o' } }] });
    expectIssue(issues, 'warning', 'invariant', 'Practitioner', /dom-6 failed: A resource should have narrative/);
    expect(issues.filter((i) => i.expression?.[0]?.startsWith('Practitioner.contained'))).toEqual([]);
  });
});

describe('contained resources', () => {
  const careplan = (extra: Record<string, unknown>) => ({
    resourceType: 'CarePlan',
    text: div(),
    status: 'active',
    intent: 'plan',
    subject: { reference: 'Patient/1' },
    ...extra,
  });

  it('validates contained resources against their own type', () => {
    const issues = base(careplan({ contained: [{ resourceType: 'Practitioner', id: 'gp', gender: 'M' }], author: { reference: '#gp' } }));
    expectIssue(issues, 'error', 'code-invalid', 'CarePlan.contained[0].gender', /'M' is not in the value set AdministrativeGender/);
  });

  it('ref-1: a #reference must point to a contained resource', () => {
    const issues = base(careplan({ contained: [{ resourceType: 'Practitioner', id: 'gp' }], author: { reference: '#nurse' } }));
    expectIssue(issues, 'error', 'invariant', 'CarePlan.author.reference', /'#nurse' points to no contained resource; contained ids are: gp/);
  });

  it('dom-3: a contained resource must be referenced', () => {
    const issues = base(careplan({ contained: [{ resourceType: 'Practitioner', id: 'gp' }] }));
    expectIssue(issues, 'error', 'invariant', 'CarePlan.contained[0]', /'gp' is not referenced/);
  });

  it('dom-3: a contained resource that refers to its container is fine', () => {
    const issues = base(careplan({ contained: [{ resourceType: 'Goal', id: 'g', lifecycleStatus: 'active', description: { text: 'x' }, subject: { reference: 'Patient/1' }, addresses: [{ reference: '#' }] }] }));
    expect(relevant(issues)).toEqual([]);
  });

  it('dom-2: contained resources contain no resources', () => {
    const issues = base(careplan({ contained: [{ resourceType: 'Practitioner', id: 'gp', contained: [{ resourceType: 'Organization', id: 'o', name: 'x' }] }], author: { reference: '#gp' } }));
    expectIssue(issues, 'error', 'invariant', 'CarePlan', /dom-2/);
  });

  it('dom-4 and dom-5: contained resources carry no version, lastUpdated or security labels', () => {
    const issues = base(
      careplan({
        contained: [{ resourceType: 'Practitioner', id: 'gp', meta: { versionId: '2', security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }] } }],
        author: { reference: '#gp' },
      }),
    );
    expectIssue(issues, 'error', 'invariant', 'CarePlan', /dom-4/);
    expectIssue(issues, 'error', 'invariant', 'CarePlan', /dom-5/);
  });

  it('checks the target type of a #reference against the contained resource', () => {
    const issues = base(careplan({ contained: [{ resourceType: 'Device', id: 'd', text: div() }], careTeam: [{ reference: '#d' }] }));
    expectIssue(issues, 'error', 'structure', 'CarePlan.careTeam[0]', /a reference to a Device is not allowed here; allowed: CareTeam/);
  });
});

describe('narrative (txt-1, txt-2)', () => {
  const withDiv = (d: string) => base({ resourceType: 'Patient', text: { status: 'generated', div: d } });

  it.each([
    ['a script', '<div xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></div>', /<script> is not allowed/],
    ['an event handler', '<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="x()">Jan</p></div>', /attribute onclick is not allowed/],
    ['a javascript: link', '<div xmlns="http://www.w3.org/1999/xhtml"><a href="javascript:x()">Jan</a></div>', /attribute href is not allowed/],
    ['no XHTML namespace', '<div><p>Jan</p></div>', /must declare xmlns/],
    ['unbalanced tags', '<div xmlns="http://www.w3.org/1999/xhtml"><p><b>Jan</p></b></div>', /not well nested/],
    ['no content', '<div xmlns="http://www.w3.org/1999/xhtml">  <p/> </div>', /must contain some text/],
    ['not a div', '<p xmlns="http://www.w3.org/1999/xhtml">Jan</p>', /single <div> element/],
  ])('refuses %s', (_label, d, message) => {
    expectIssue(withDiv(d), 'error', 'invariant', 'Patient.text.div', message);
  });

  it('accepts tables, images, entities and comments', () => {
    const d = '<div xmlns="http://www.w3.org/1999/xhtml"><!-- gen --><table class="grid"><tr><td>Jan &amp; Els&#160;Peeters</td></tr></table><img src="#photo" alt="x"/><br/></div>';
    expect(relevant(withDiv(d))).toEqual([]);
  });
});

describe('native invariants are exactly their FHIRPath expressions', () => {
  it('implements only expressions that occur, verbatim, in the R4 definitions or the project profiles', () => {
    const expressions = new Set<string>();
    for (const sd of [...baseTypeDefinitions(), ...baseResourceDefinitions(), ...readPackageFolder(defaultProfilesDir()).filter((r) => r.resourceType === 'StructureDefinition')]) {
      for (const el of (sd as { snapshot?: { element: Array<{ constraint?: Array<{ expression?: string }> }> } }).snapshot?.element ?? []) {
        for (const c of el.constraint ?? []) if (c.expression) expressions.add(c.expression);
      }
    }
    const missing = nativeInvariantKeys().filter((k) => !expressions.has(nativeExpression(k)!));
    expect(missing).toEqual([]);
  });

  it('gives the same results as fhirpath.js on the official R4 examples', () => {
    // The one intended difference: dom-6 (narrative) is not asked of contained resources.
    const registry = loadRegistry(defaultProfilesDir());
    const native = new ValidationEngine(registry, defaultRequiredProfiles());
    const fhirpath = new ValidationEngine(loadRegistry(defaultProfilesDir()), defaultRequiredProfiles(), { forceFhirPath: true });
    const keys = new Set(nativeInvariantKeys());
    const found = (issues: OperationOutcomeIssue[]) =>
      new Set(
        issues
          .map((i) => {
            const key = /constraint (\S+) failed/.exec(i.diagnostics ?? '')?.[1];
            return key && keys.has(key) && !(key === 'dom-6' && /\.contained\[\d+\]$/.test(i.expression?.[0] ?? '')) ? `${i.expression?.[0]} ${key}` : undefined;
          })
          .filter((x): x is string => x !== undefined),
      );
    const dir = dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.examples/package.json'));
    const skip = new Set(['StructureDefinition', 'ValueSet', 'CodeSystem', 'SearchParameter', 'ConceptMap', 'OperationDefinition', 'CapabilityStatement', 'ImplementationGuide']);
    let compared = 0;
    let failures = 0;
    for (const file of readdirSync(dir)) {
      if (!file.endsWith('.json') || file.startsWith('.') || file === 'package.json') continue;
      const resource = JSON.parse(readFileSync(join(dir, file), 'utf8'));
      if (skip.has(resource.resourceType) || (resource.resourceType === 'Bundle' && (resource.entry?.length ?? 0) > 200)) continue;
      const a = found(native.validate(resource, { baseOnly: true }));
      const b = [...found(fhirpath.validate(resource, { baseOnly: true }))];
      failures += a.size;
      expect([...a].sort(), file).toEqual(b.sort());
      compared++;
    }
    expect(compared).toBeGreaterThan(600);
    // The corpus does exercise failing invariants, so agreement is not trivially on "all pass".
    expect(failures).toBeGreaterThan(100);
  });

  it('gives the same results as fhirpath.js on failing inputs', () => {
    const native = new ValidationEngine(loadRegistry(defaultProfilesDir()), defaultRequiredProfiles());
    const fhirpath = new ValidationEngine(loadRegistry(defaultProfilesDir()), defaultRequiredProfiles(), { forceFhirPath: true });
    const inputs: unknown[] = [
      { resourceType: 'Patient', text: div(), contact: [{ gender: 'male' }], telecom: [{ value: '1' }], photo: [{ data: 'AAAA' }] },
      { resourceType: 'Organization', text: div(), address: [{ use: 'home' }], telecom: [{ system: 'phone', value: '1', use: 'home' }] },
      { resourceType: 'Condition', text: div(), subject: { reference: 'Patient/1' }, abatementString: 'x', verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'entered-in-error' }] }, clinicalStatus: { text: 'x' }, stage: [{ type: { text: 'x' } }], evidence: [{}] },
      { resourceType: 'Goal', text: div(), lifecycleStatus: 'active', description: { text: 'x' }, subject: { reference: 'Patient/1' }, target: [{ detailRatio: { numerator: { value: 1 } } }] },
      { resourceType: 'Consent', text: div(), status: 'active', scope: { text: 'x' }, category: [{ text: 'x' }] },
      { resourceType: 'CarePlan', text: div(), status: 'active', intent: 'plan', subject: { reference: 'Patient/1' }, period: { start: '2026-02-02', end: '2026-01-01' }, activity: [{ reference: { reference: 'Task/1' }, detail: { status: 'scheduled', scheduledTiming: { repeat: { periodMax: 2, countMax: 3, durationMax: 1, offset: 5, when: ['C'] } } } }] },
      { resourceType: 'Bundle', type: 'document', total: 3, entry: [{ fullUrl: 'http://x/Patient/1/_history/1', search: { mode: 'match' } }, {}] },
      { resourceType: 'Bundle', type: 'message', entry: [{ resource: { resourceType: 'Patient', text: div() }, response: { status: '200' } }] },
      { resourceType: 'PlanDefinition', text: div(), status: 'draft', name: 'lower_case' },
    ];
    const key = (i: OperationOutcomeIssue) => (i.code === 'invariant' ? `${i.expression?.[0]} ${/constraint (\S+)/.exec(i.diagnostics ?? '')?.[1]}` : undefined);
    let total = 0;
    for (const input of inputs) {
      const a = native.validate(input, { baseOnly: true }).map(key).filter(Boolean).sort();
      const b = fhirpath.validate(input, { baseOnly: true }).map(key).filter(Boolean).sort();
      expect(a).toEqual(b);
      total += a.length;
    }
    expect(total).toBeGreaterThan(25);
  });
});
