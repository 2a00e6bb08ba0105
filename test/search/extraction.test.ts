import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import fhirpath from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4/index.js';
import { describe, expect, it } from 'vitest';
import { RESOURCE_TYPES } from '../../src/fhir/resource-types.js';
import { searchParameters } from '../../src/search/parameters.js';
import { extractIndexRows, extractLinks } from '../../src/search/extract.js';

const dir = path.dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.examples/package.json'));
const examples = fs
  .readdirSync(dir)
  .filter((f) => RESOURCE_TYPES.some((t) => f.startsWith(`${t}-`)))
  .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Record<string, unknown>)
  .filter((r) => (RESOURCE_TYPES as readonly string[]).includes(String(r.resourceType)));

describe('search index extraction', () => {
  const registry = searchParameters();

  it('walks plain paths natively with exactly the values FHIRPath gives, on every official example', () => {
    let compared = 0;
    for (const resource of examples) {
      for (const def of registry.indexed(String(resource.resourceType)).filter((d) => d.native)) {
        const expected = fhirpath.evaluate(resource, def.expression, undefined, r4model);
        expect(def.extract(resource), `${String(resource.resourceType)}/${String(resource.id)} ${def.code}`).toEqual(expected);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(1000);
    expect(registry.indexed('CarePlan').filter((d) => d.native).map((d) => d.code)).toEqual(expect.arrayContaining(['subject', 'care-team', 'status', 'date']));
  });

  it('indexes a Belgian patient: names without accents, SSIN as a token, birth date as a range', () => {
    const rows = extractIndexRows(
      {
        resourceType: 'Patient',
        identifier: [{ system: 'https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin', value: '50021405210' }],
        name: [{ family: 'Dubois', given: ['Françoise'] }],
        birthDate: '1950-02-14',
        deceasedBoolean: false,
      },
      registry,
    );
    expect(rows.string).toContainEqual(['given', 'francoise', 'Françoise']);
    expect(rows.token).toContainEqual(['identifier', 'https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin', '50021405210', null]);
    expect(rows.token).toContainEqual(['deceased', null, 'false', null]);
    expect(rows.date).toContainEqual(['birthdate', '1950-02-14T00:00:00.000Z', '1950-02-15T00:00:00.000Z']);
  });

  it('keeps only the targets that a parameter restricts itself to (where(resolve() is Patient))', () => {
    const rows = extractIndexRows({ resourceType: 'CarePlan', subject: { reference: 'Group/g1' } }, registry);
    expect(rows.reference).toContainEqual(['subject', 'Group', 'g1', null, null, null]);
    expect(rows.reference.filter((r) => r[0] === 'patient')).toEqual([]);
  });

  it('finds every relative reference for integrity, contained ones included, with its location', () => {
    const links = extractLinks({
      resourceType: 'CarePlan',
      subject: { reference: 'Patient/p1' },
      contained: [{ resourceType: 'Goal', subject: { reference: 'Patient/p2' } }],
      activity: [{ detail: { performer: [{ reference: '#x' }, { reference: 'Practitioner/d1' }] } }],
    });
    expect(links).toEqual([
      { path: 'CarePlan.subject', type: 'Patient', id: 'p1' },
      { path: 'CarePlan.contained[0].subject', type: 'Patient', id: 'p2' },
      { path: 'CarePlan.activity[0].detail.performer[1]', type: 'Practitioner', id: 'd1' },
    ]);
  });
});
