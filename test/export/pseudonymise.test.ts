import { describe, expect, it } from 'vitest';
import { clientKey } from '../../src/export/key.js';
import { containsSsin, Pseudonymiser } from '../../src/export/pseudonymise.js';

const SSIN = 'https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin';
const key = (n: number) => Buffer.alloc(32, n);

describe('pseudonymisation', () => {
  const p = new Pseudonymiser({ key: key(1), baseUrl: 'https://record.example.be/fhir' });

  it('hashes ids and identifier values with the key: stable for one key, different for another', () => {
    expect(p.id('Patient', 'pat-jan')).toBe(p.id('Patient', 'pat-jan'));
    expect(p.id('Patient', 'pat-jan')).toMatch(/^[0-9a-f]{40}$/);
    expect(p.id('Patient', 'pat-jan')).not.toBe(p.id('Patient', 'pat-an'));
    expect(p.id('Patient', 'x')).not.toBe(p.id('Goal', 'x'));
    expect(new Pseudonymiser({ key: key(2) }).id('Patient', 'pat-jan')).not.toBe(p.id('Patient', 'pat-jan'));
    // The old eHealth NamingSystem URL is the same SSIN.
    expect(p.identifierValue('https://www.ehealth.fgov.be/standards/fhir/NamingSystem/ssin', '48041201777')).toBe(p.identifierValue(SSIN, '48041201777'));
    // Organisations and guidelines keep their ids.
    expect(p.id('Organization', 'org-consortium-leiestreek')).toBe('org-consortium-leiestreek');
    // Each evaluation client gets a key of its own.
    expect(clientKey(key(1), 'team-a').equals(clientKey(key(1), 'team-b'))).toBe(false);
    expect(clientKey(key(1), 'team-a').equals(clientKey(key(1), 'team-a'))).toBe(true);
  });

  it('keeps codes, dates and structure; removes names, contact details, free text and narrative; birth date to year', () => {
    const out = p.resource({
      resourceType: 'Patient',
      id: 'pat-jan',
      meta: { versionId: '3', source: '#jan-peeters-gp' },
      text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Jan Peeters</div>' },
      extension: [
        { url: 'https://example.org/nickname', valueString: 'Janneke' },
        { url: 'https://example.org/language', valueCode: 'nl' },
      ],
      identifier: [{ use: 'official', system: SSIN, value: '48041201777', assigner: { display: 'Rijksregister' } }],
      name: [{ family: 'Peeters', given: ['Jan'] }],
      telecom: [{ system: 'phone', value: '+32 56 21 33 44' }],
      gender: 'male',
      birthDate: '1948-04-12',
      _birthDate: { extension: [{ url: 'https://example.org/precision', valueCode: 'day' }] },
      address: [{ use: 'home', line: ['Overleiestraat 14'], city: 'Kortrijk', district: 'West-Vlaanderen', postalCode: '8500', country: 'BE', text: 'Overleiestraat 14, 8500 Kortrijk' }],
      maritalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'M', display: 'Married' }], text: 'getrouwd met Maria' },
      photo: [{ contentType: 'image/png', data: 'iVBORw0KGgo=' }],
      contact: [{ relationship: [{ text: 'dochter' }], name: { family: 'Peeters' }, telecom: [{ system: 'phone', value: '0470 12 34 56' }] }],
      generalPractitioner: [{ reference: 'Practitioner/prac-an', display: 'Dr. An Vermeulen' }],
      managingOrganization: { reference: 'https://record.example.be/fhir/Organization/org-hap' },
      link: [{ other: { reference: 'https://elsewhere.example/Patient/99' }, type: 'seealso' }],
      unknownElement: 'Jan',
    });
    expect(out).toEqual({
      resourceType: 'Patient',
      id: p.id('Patient', 'pat-jan'),
      meta: { versionId: '3' },
      extension: [{ url: 'https://example.org/language', valueCode: 'nl' }],
      identifier: [{ use: 'official', system: SSIN, value: p.identifierValue(SSIN, '48041201777') }],
      gender: 'male',
      birthDate: '1948',
      _birthDate: { extension: [{ url: 'https://example.org/precision', valueCode: 'day' }] },
      address: [{ use: 'home', postalCode: '8500', country: 'BE' }],
      maritalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'M', display: 'Married' }] },
      contact: [{ relationship: [{ extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'masked' }] }] }],
      generalPractitioner: [{ reference: `Practitioner/${p.id('Practitioner', 'prac-an')}` }],
      managingOrganization: { reference: 'Organization/org-hap' },
      link: [{ other: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'masked' }] }, type: 'seealso' }],
    });
  });

  it('keeps the texts of organisations and guidelines, but never an SSIN', () => {
    const org = p.resource({ resourceType: 'Organization', id: 'org-hap', name: 'Huisartsenpraktijk De Brug', alias: ['contact: 48041201777'], telecom: [{ system: 'phone', value: '056 11 22 33' }] });
    expect(org).toEqual({ resourceType: 'Organization', id: 'org-hap', name: 'Huisartsenpraktijk De Brug' });
  });

  it('recognises SSINs in free text, with or without separators', () => {
    expect(containsSsin('INSZ 48.04.12-017.77 gezien')).toBe(true);
    expect(containsSsin('48041201777')).toBe(true);
    expect(containsSsin('48041201778')).toBe(false);
    expect(containsSsin('tel 056 21 33 44')).toBe(false);
  });
});
