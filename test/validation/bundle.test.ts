import type { Bundle } from 'fhir/r4.js';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ResourceValidator } from '../../src/validation/index.js';
import { HCPARTY, transactionBundle } from './fixtures/realistic.js';
import { div, expectIssue, relevant, validator } from './helpers.js';

let v: ResourceValidator;
beforeAll(async () => {
  v = await validator();
});

const entryOf = (b: Bundle, i: number) => b.entry![i].resource as unknown as Record<string, unknown>;

describe('transaction Bundles', () => {
  it('accepts the realistic 100-entry transaction without any issue', () => {
    const b = transactionBundle(100);
    expect(b.entry).toHaveLength(100);
    expect(v.validate(b)).toEqual([]);
  });

  it('validates every entry against the base and its required profile, with entry paths', () => {
    const b = transactionBundle(20);
    entryOf(b, 1).gender = 'vrouw';
    delete entryOf(b, 1).name;
    const issues = v.validate(b);
    expectIssue(issues, 'error', 'code-invalid', 'Bundle.entry[1].resource.gender', /'vrouw' is not in the value set AdministrativeGender/);
    expectIssue(issues, 'error', 'required', 'Bundle.entry[1].resource.name', /by ICR Patient/);
  });

  it('does not apply our required profiles to entries with baseOnly', () => {
    const b = transactionBundle(20);
    delete entryOf(b, 1).name;
    for (const e of b.entry!) delete (e.resource as { meta?: unknown }).meta;
    expect(v.validate(b, { baseOnly: true })).toEqual([]);
  });

  it('resolves urn:uuid references to the entries, for target types', () => {
    const b = transactionBundle(20);
    // entry 7 is a CareTeam; make its subject point to the Practitioner entry (3)
    (entryOf(b, 7).subject as { reference: string }).reference = b.entry![3].fullUrl!;
    const issues = v.validate(b);
    expectIssue(issues, 'error', 'structure', 'Bundle.entry[7].resource.subject', /a reference to a Practitioner is not allowed here; allowed: Patient, Group/);
  });

  it('warns about a urn:uuid reference that matches no entry', () => {
    const b = transactionBundle(20);
    (entryOf(b, 7).subject as { reference: string }).reference = 'urn:uuid:6f1c9999-2b7d-4c3e-9a51-0c7e00009999';
    expectIssue(v.validate(b), 'warning', 'not-found', 'Bundle.entry[7].resource.subject.reference', /matches the fullUrl of no entry of the Bundle/);
  });

  it('bdl-3: every transaction entry has a request', () => {
    const b = transactionBundle(20);
    delete b.entry![2].request;
    expectIssue(v.validate(b), 'error', 'invariant', 'Bundle', /bdl-3/);
  });

  it('bdl-7: fullUrls are unique', () => {
    const b = transactionBundle(20);
    b.entry![5].fullUrl = b.entry![4].fullUrl;
    expectIssue(v.validate(b), 'error', 'invariant', 'Bundle.entry[5].fullUrl', /occurs more than once in the Bundle/);
  });

  it('bdl-8: a fullUrl is not version specific', () => {
    const b: Bundle = { resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl: 'https://icr.example.be/fhir/Patient/1/_history/2', resource: { resourceType: 'Patient', id: '1', text: div() } as never }] };
    expectIssue(v.validate(b, { baseOnly: true }), 'error', 'invariant', 'Bundle.entry[0]', /bdl-8/);
  });

  it('the fullUrl agrees with the resource id', () => {
    const b: Bundle = { resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl: 'https://icr.example.be/fhir/Patient/1', resource: { resourceType: 'Patient', id: '2', text: div() } as never }] };
    expectIssue(v.validate(b, { baseOnly: true }), 'error', 'invariant', 'Bundle.entry[0].fullUrl', /ends in an id that differs from the resource id '2'/);
  });

  it('bdl-1 and bdl-2: total and search only in search results', () => {
    const b = { resourceType: 'Bundle', type: 'collection', total: 1, entry: [{ resource: { resourceType: 'Patient', text: div() }, search: { mode: 'match' } }] };
    const issues = v.validate(b, { baseOnly: true });
    expectIssue(issues, 'error', 'invariant', 'Bundle', /bdl-1/);
    expectIssue(issues, 'error', 'invariant', 'Bundle', /bdl-2/);
  });

  it('bdl-9 to bdl-11: a document has an identifier, a timestamp and a Composition first', () => {
    const issues = v.validate({ resourceType: 'Bundle', type: 'document', entry: [{ fullUrl: 'urn:uuid:6f1c0000-2b7d-4c3e-9a51-0c7e00000001', resource: { resourceType: 'Patient', text: div() } }] }, { baseOnly: true });
    for (const key of ['bdl-9', 'bdl-10', 'bdl-11']) expectIssue(issues, 'error', 'invariant', 'Bundle', new RegExp(key));
  });

  it('validates the request of each entry', () => {
    const b = transactionBundle(20);
    b.entry![3].request = { method: 'MERGE' as never, url: 'Practitioner' };
    expectIssue(v.validate(b), 'error', 'code-invalid', 'Bundle.entry[3].request.method', /'MERGE' is not in the value set HTTPVerb/);
  });

  it('refuses an entry that is not a resource', () => {
    const issues = v.validate({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { id: 'x' } }, { resource: 'Patient/1' }] }, { baseOnly: true });
    expectIssue(issues, 'error', 'structure', 'Bundle.entry[0].resource', /'resourceType' is missing/);
    expectIssue(issues, 'error', 'structure', 'Bundle.entry[1].resource', /expected a FHIR resource/);
  });

  it('validates Bundles nested in Bundles, with their own entries', () => {
    const inner = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Practitioner', text: div(), gender: 'x' } }] };
    const issues = v.validate({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: inner }] }, { baseOnly: true });
    expectIssue(issues, 'error', 'code-invalid', 'Bundle.entry[0].resource.entry[0].resource.gender', /AdministrativeGender/);
  });

  it('applies meta.profile of an entry in a search result too', () => {
    const b = {
      resourceType: 'Bundle',
      type: 'searchset',
      total: 1,
      entry: [
        {
          fullUrl: 'https://icr.example.be/fhir/CareTeam/1',
          resource: { resourceType: 'CareTeam', id: '1', text: div(), meta: { profile: ['https://fhir.integrated-care.be/StructureDefinition/icr-careteam'] }, subject: { reference: 'Patient/1' }, participant: [{ role: [{ coding: [{ system: HCPARTY, code: 'persnurse' }] }] }] },
          search: { mode: 'match' },
        },
      ],
    };
    expect(relevant(v.validate(b, { baseOnly: true }))).toEqual([]);
    (b.entry[0].resource.participant[0] as Record<string, unknown>).role = undefined;
    expectIssue(v.validate(b, { baseOnly: true }), 'error', 'required', 'Bundle.entry[0].resource.participant[0].role', /by ICR CareTeam/);
  });
});
