import { beforeAll, describe, expect, it } from 'vitest';
import type { ResourceValidator } from '../../src/validation/index.js';
import { div, errors, expectIssue, expectNoErrors, relevant, validator } from './helpers.js';

let v: ResourceValidator;
beforeAll(async () => {
  v = await validator();
});

const base = (r: unknown) => v.validate(r, { baseOnly: true });

describe('JSON shape', () => {
  it.each([
    ['null', null],
    ['a number', 42],
    ['a string', 'Patient'],
    ['an array', [{ resourceType: 'Patient' }]],
  ])('refuses %s instead of a resource, without throwing', (_label, input) => {
    const issues = base(input);
    expectIssue(issues, 'error', 'structure', 'Resource', /expected a FHIR resource/);
  });

  it('requires resourceType', () => {
    expectIssue(base({ id: 'x', gender: 'male' }), 'error', 'structure', 'Resource', /'resourceType' is missing/);
  });

  it('names an unknown resource type and suggests the closest one', () => {
    expectIssue(base({ resourceType: 'Patinet' }), 'error', 'structure', 'Patinet', /not a FHIR R4 resource type \(Patient\?\)/);
  });

  it('refuses an abstract resource type', () => {
    expectIssue(base({ resourceType: 'DomainResource' }), 'error', 'structure', 'DomainResource', /abstract/);
  });

  it('reports an unknown property with a suggestion', () => {
    const issues = base({ resourceType: 'Patient', text: div(), birthdate: '1980-01-01' });
    expectIssue(issues, 'error', 'structure', 'Patient.birthdate', /unknown property 'birthdate' in Patient; birthDate\?/);
  });

  it('reports an unknown property inside a data type', () => {
    const issues = base({ resourceType: 'Patient', text: div(), name: [{ family: 'Peeters', firstName: 'Jan' }] });
    expectIssue(issues, 'error', 'structure', 'Patient.name[0].firstName', /unknown property 'firstName' in HumanName/);
  });

  it('reports an unknown property inside a backbone element', () => {
    const issues = base({ resourceType: 'Patient', text: div(), contact: [{ name: { text: 'Els' }, phone: '1' }] });
    expectIssue(issues, 'error', 'structure', 'Patient.contact[0].phone', /unknown property 'phone' in Patient.contact/);
  });

  it('requires an array for a repeating element', () => {
    const issues = base({ resourceType: 'Patient', text: div(), name: { family: 'Peeters' } });
    expectIssue(issues, 'error', 'structure', 'Patient.name', /must be a JSON array/);
  });

  it('still validates the content of a single value given where an array belongs', () => {
    const issues = base({ resourceType: 'Patient', text: div(), name: { family: 42 } });
    expectIssue(issues, 'error', 'structure', 'Patient.name.family', /must be a JSON string/);
  });

  it('refuses an array for a single element', () => {
    expectIssue(base({ resourceType: 'Patient', text: div(), gender: ['male'] }), 'error', 'structure', 'Patient.gender', /single value, not an array/);
  });

  it('refuses an empty array', () => {
    expectIssue(base({ resourceType: 'Patient', text: div(), identifier: [] }), 'error', 'structure', 'Patient.identifier', /is empty/);
  });

  it('refuses null as a value', () => {
    expectIssue(base({ resourceType: 'Patient', text: div(), gender: null }), 'error', 'structure', 'Patient.gender', /null is not a valid value/);
  });

  it('refuses null inside an array without a matching extension', () => {
    const issues = base({ resourceType: 'Patient', text: div(), name: [{ given: ['Jan', null] }] });
    expectIssue(issues, 'error', 'structure', 'Patient.name[0].given[1]', /null/);
  });

  it('refuses an object where a primitive belongs', () => {
    expectIssue(base({ resourceType: 'Patient', text: div(), birthDate: { value: '1980' } }), 'error', 'structure', 'Patient.birthDate', /must be a JSON string/);
  });

  it('refuses a primitive where an object belongs', () => {
    expectIssue(base({ resourceType: 'Patient', text: div(), maritalStatus: 'M' }), 'error', 'structure', 'Patient.maritalStatus', /expected a JSON object \(CodeableConcept\)/);
  });

  it('refuses an empty object (ele-1)', () => {
    expectIssue(base({ resourceType: 'Patient', text: div(), maritalStatus: {} }), 'error', 'invariant', 'Patient.maritalStatus', /is empty/);
  });

  it('refuses an element that has only an id (ele-1)', () => {
    expectIssue(base({ resourceType: 'Patient', text: div(), maritalStatus: { id: 'm1' } }), 'error', 'invariant', 'Patient.maritalStatus', /is empty/);
  });

  it('reports every problem, not only the first', () => {
    const issues = base({ resourceType: 'Patient', text: div(), gender: 'mail', birthDate: '1980-13-01', foo: 1, name: { family: 'x' } });
    expect(errors(issues).map((i) => i.expression?.[0]).sort()).toEqual(['Patient.birthDate', 'Patient.foo', 'Patient.gender', 'Patient.name']);
  });
});

describe('cardinality and choice types', () => {
  it('requires the elements the base specification requires', () => {
    const issues = base({ resourceType: 'CarePlan', text: div(), status: 'active', subject: { reference: 'Patient/1' } });
    expectIssue(issues, 'error', 'required', 'CarePlan.intent', /'intent' is required \(at least 1\), found 0/);
  });

  it('requires required elements in backbone elements', () => {
    const issues = base({ resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Basic', code: { text: 'x' } }, request: { url: 'Basic' } }] });
    expectIssue(issues, 'error', 'required', 'Bundle.entry[0].request.method', /'method' is required/);
  });

  it('accepts a required primitive that only has an extension', () => {
    const issues = base({
      resourceType: 'CarePlan',
      text: div(),
      _status: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }] },
      intent: 'plan',
      subject: { reference: 'Patient/1' },
    });
    expectNoErrors(issues);
  });

  it('allows only one type of a choice element', () => {
    const issues = base({ resourceType: 'Patient', text: div(), deceasedBoolean: true, deceasedDateTime: '2020-01-01' });
    expectIssue(issues, 'error', 'structure', 'Patient', /only one of deceasedBoolean, deceasedDateTime/);
  });

  it('locates issues inside a choice type with ofType()', () => {
    const issues = base({ resourceType: 'Patient', text: div(), deceasedDateTime: '2020-02-30' });
    expectIssue(issues, 'error', 'value', 'Patient.deceased.ofType(dateTime)', /not an existing calendar date/);
  });

  it('refuses a type a choice element does not have', () => {
    const issues = base({ resourceType: 'Patient', text: div(), deceasedString: 'yes' });
    expectIssue(issues, 'error', 'structure', 'Patient.deceasedString', /unknown property 'deceasedString'/);
  });

  it('validates elements that reuse another element definition (contentReference)', () => {
    const issues = base({
      resourceType: 'PlanDefinition',
      text: div(),
      status: 'draft',
      action: [{ title: 'a', action: [{ title: 'b', action: [{ title: 'c', prefix: 1 }] }] }],
    });
    expectIssue(issues, 'error', 'structure', 'PlanDefinition.action[0].action[0].action[0].prefix', /must be a JSON string/);
  });

  it('stops at absurd nesting instead of overflowing the stack', () => {
    let ext: Record<string, unknown> = { url: 'http://example.org/leaf', valueString: 'x' };
    for (let i = 0; i < 200; i++) ext = { url: 'http://example.org/level', extension: [ext] };
    const issues = base({ resourceType: 'Patient', text: div(), extension: [ext] });
    expect(issues.some((i) => i.severity === 'error' && /nested deeper than 64/.test(i.diagnostics ?? ''))).toBe(true);
  });
});

describe('resources the server does not hold', () => {
  it('validates any R4 resource type against the base specification', () => {
    const issues = base({ resourceType: 'Observation', text: div(), status: 'done', code: { text: 'x' } });
    expectIssue(issues, 'error', 'code-invalid', 'Observation.status', /'done' is not in the value set ObservationStatus/);
  });

  it('validates Parameters and the resources inside them', () => {
    const issues = base({
      resourceType: 'Parameters',
      parameter: [
        { name: 'resource', resource: { resourceType: 'Patient', text: div(), gender: 'f' } },
        { name: 'mode', valueCode: 'create' },
      ],
    });
    expectIssue(issues, 'error', 'code-invalid', 'Parameters.parameter[0].resource.gender', /'f' is not in the value set AdministrativeGender/);
  });

  it('checks inv-1 in Parameters (a value and a resource together)', () => {
    const issues = base({ resourceType: 'Parameters', parameter: [{ name: 'x', valueString: 'a', resource: { resourceType: 'Basic', text: div(), code: { text: 'x' } } }] });
    expectIssue(issues, 'error', 'invariant', 'Parameters.parameter[0]', /inv-1/);
  });

  it('validates an OperationOutcome typed element in a Bundle response', () => {
    const issues = base({
      resourceType: 'Bundle',
      type: 'batch-response',
      entry: [{ response: { status: '400', outcome: { resourceType: 'OperationOutcome', issue: [{ severity: 'bad', code: 'invalid' }] } } }],
    });
    expectIssue(issues, 'error', 'code-invalid', 'Bundle.entry[0].response.outcome.issue[0].severity', /'bad' is not in the value set IssueSeverity/);
  });

  it('checks the resource id format', () => {
    expectIssue(base({ resourceType: 'Patient', text: div(), id: 'a b' }), 'error', 'value', 'Patient.id', /1 to 64 letters/);
  });

  it('accepts a clean resource', () => {
    expect(relevant(base({ resourceType: 'Patient', id: 'p-1', text: div(), name: [{ family: 'Peeters' }], gender: 'male' }))).toEqual([]);
  });
});
