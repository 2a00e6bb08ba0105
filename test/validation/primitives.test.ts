import { beforeAll, describe, expect, it } from 'vitest';
import type { ResourceValidator } from '../../src/validation/index.js';
import { javaRegexToJs } from '../../src/validation/primitives.js';
import { div, expectIssue, relevant, validator } from './helpers.js';

let v: ResourceValidator;
beforeAll(async () => {
  v = await validator();
});

const base = (r: unknown) => v.validate(r, { baseOnly: true });
const patient = (extra: Record<string, unknown>) => base({ resourceType: 'Patient', text: div(), ...extra });

describe('primitive formats (the regexes of the R4 type definitions)', () => {
  it.each([
    ['date', { birthDate: '1980-1-5' }, 'Patient.birthDate', /not a valid date; expected YYYY, YYYY-MM or YYYY-MM-DD/],
    ['date with a time', { birthDate: '1980-01-05T10:00:00Z' }, 'Patient.birthDate', /not a valid date/],
    ['dateTime without time zone', { deceasedDateTime: '2020-01-05T10:00:00' }, 'Patient.deceased.ofType(dateTime)', /not a valid dateTime/],
    ['dateTime hour 24', { deceasedDateTime: '2020-01-05T24:00:00Z' }, 'Patient.deceased.ofType(dateTime)', /not a valid dateTime/],
    ['instant without seconds', { meta: { lastUpdated: '2020-01-05T10:00Z' } }, 'Patient.meta.lastUpdated', /not a valid instant/],
    ['code with a double space', { gender: 'fe  male' }, 'Patient.gender', /not a valid code/],
    ['uri with a space', { implicitRules: 'http://example.org/a rule' }, 'Patient.implicitRules', /not a valid uri/],
    ['id too long', { id: 'x'.repeat(65) }, 'Patient.id', /not a valid id/],
  ])('refuses a bad %s', (_label, extra, expression, message) => {
    expectIssue(patient(extra), 'error', 'value', expression, message);
  });

  it('refuses February 30th, which the date regex lets through', () => {
    expectIssue(patient({ birthDate: '2023-02-30' }), 'error', 'value', 'Patient.birthDate', /not an existing calendar date/);
  });

  it('accepts February 29th in a leap year only', () => {
    expect(relevant(patient({ birthDate: '2024-02-29' }))).toEqual([]);
    expectIssue(patient({ birthDate: '2023-02-29' }), 'error', 'value', 'Patient.birthDate', /calendar date/);
  });

  it.each(['1980', '1980-07', '1980-07-30'])('accepts the partial date %s', (birthDate) => {
    expect(relevant(patient({ birthDate }))).toEqual([]);
  });

  it('refuses a string where a boolean belongs', () => {
    expectIssue(patient({ active: 'true' }), 'error', 'structure', 'Patient.active', /a boolean must be a JSON boolean, found "true"/);
  });

  it('refuses a string where an integer belongs', () => {
    expectIssue(patient({ multipleBirthInteger: '2' }), 'error', 'structure', 'Patient.multipleBirth.ofType(integer)', /must be a JSON number/);
  });

  it('refuses a decimal where an integer belongs', () => {
    expectIssue(patient({ multipleBirthInteger: 1.5 }), 'error', 'value', 'Patient.multipleBirth.ofType(integer)', /not a valid integer/);
  });

  it('refuses an integer out of the 32-bit range', () => {
    expectIssue(patient({ multipleBirthInteger: 2 ** 31 }), 'error', 'value', 'Patient.multipleBirth.ofType(integer)', /out of range/);
  });

  it('refuses a negative unsignedInt', () => {
    const issues = base({ resourceType: 'Patient', text: div(), photo: [{ contentType: 'image/png', size: -1 }] });
    expectIssue(issues, 'error', 'value', 'Patient.photo[0].size', /out of range for unsignedInt/);
  });

  it('refuses an empty string', () => {
    expectIssue(patient({ name: [{ family: '' }] }), 'error', 'value', 'Patient.name[0].family', /empty string/);
  });

  it('accepts a no-break space in a string (Java \\s does not match it)', () => {
    expect(relevant(patient({ name: [{ family: 'Van\u00a0Damme' }] }))).toEqual([]);
  });

  it('refuses a bad oid and a bad uuid', () => {
    const issues = patient({
      extension: [
        { url: 'http://example.org/fhir/StructureDefinition/an-oid', valueOid: 'urn:oid:1.2.x' },
        { url: 'http://example.org/fhir/StructureDefinition/a-uuid', valueUuid: 'urn:uuid:6F1C0000-2B7D-4C3E-9A51-0C7E00000000' },
      ],
    });
    expectIssue(issues, 'error', 'value', 'Patient.extension[0].value.ofType(oid)', /not a valid oid; expected urn:oid:/);
    expectIssue(issues, 'error', 'value', 'Patient.extension[1].value.ofType(uuid)', /lower-case UUID/);
  });

  it('accepts a positiveInt of 1 and refuses 0', () => {
    const timing = (frequency: number) => base({ resourceType: 'CarePlan', text: div(), status: 'active', intent: 'plan', subject: { reference: 'Patient/1' }, activity: [{ detail: { status: 'scheduled', scheduledTiming: { repeat: { frequency, period: 1, periodUnit: 'd' } } } }] });
    expect(relevant(timing(1))).toEqual([]);
    expectIssue(timing(0), 'error', 'value', 'CarePlan.activity[0].detail.scheduled.ofType(Timing).repeat.frequency', /out of range for positiveInt/);
  });

  it('checks base64Binary without the backtracking regex', () => {
    const ok = base({ resourceType: 'Patient', text: div(), photo: [{ contentType: 'image/png', data: 'iVBORw0KGgo=' }] });
    expect(relevant(ok)).toEqual([]);
    const bad = base({ resourceType: 'Patient', text: div(), photo: [{ contentType: 'image/png', data: 'not base64!' }] });
    expectIssue(bad, 'error', 'value', 'Patient.photo[0].data', /not a valid base64Binary/);
  });

  it('gives the format message in Dutch and French', () => {
    const nl = v.validate({ resourceType: 'Patient', text: div(), birthDate: '30/07/1985' }, { baseOnly: true, lang: 'nl' });
    expectIssue(nl, 'error', 'value', 'Patient.birthDate', /is geen geldige date; verwacht: JJJJ, JJJJ-MM of JJJJ-MM-DD/);
    const fr = v.validate({ resourceType: 'Patient', text: div(), birthDate: '30/07/1985' }, { baseOnly: true, lang: 'fr' });
    expectIssue(fr, 'error', 'value', 'Patient.birthDate', /n'est pas un date valide; attendu: AAAA, AAAA-MM ou AAAA-MM-JJ/);
  });
});

describe('primitive extensions (_element)', () => {
  it('accepts a value with an extension', () => {
    const issues = patient({ birthDate: '1948-03-15', _birthDate: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthTime', valueDateTime: '1948-03-15T06:30:00+01:00' }] } });
    expect(relevant(issues)).toEqual([]);
  });

  it('accepts an element with only an extension (data absent)', () => {
    const issues = patient({ _birthDate: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }] } });
    expect(relevant(issues)).toEqual([]);
  });

  it('refuses an _element without value or extension', () => {
    expectIssue(patient({ _birthDate: { id: 'b' } }), 'error', 'invariant', 'Patient.birthDate', /neither a value nor an extension/);
  });

  it('aligns repeating primitives with their _array', () => {
    const ok = patient({ name: [{ given: ['Jan', null], _given: [null, { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'masked' }] }] }] });
    expect(relevant(ok)).toEqual([]);
    const bad = patient({ name: [{ given: ['Jan', 'Piet'], _given: [null] }] });
    expectIssue(bad, 'error', 'structure', 'Patient.name[0].given', /'given' and '_given' must be arrays of the same length \(found 2 and 1\)/);
  });

  it('validates the extensions inside _element', () => {
    const issues = patient({ _gender: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 42 }] } });
    expectIssue(issues, 'error', 'structure', 'Patient.gender.extension[0].value.ofType(code)', /must be a JSON string/);
  });
});

describe('Java regexes in JavaScript', () => {
  it('rewrites \\s and \\S to the ASCII whitespace set', () => {
    const re = new RegExp('^(?:' + javaRegexToJs('[ \\r\\n\\t\\S]+') + ')$');
    expect(re.test('a\u00a0b')).toBe(true);
    expect(re.test('a\u000bb')).toBe(false);
    const code = new RegExp('^(?:' + javaRegexToJs('[^\\s]+(\\s[^\\s]+)*') + ')$');
    expect(code.test('a b')).toBe(true);
    expect(code.test('a  b')).toBe(false);
    expect(code.test('a\u00a0b')).toBe(true);
  });
});
