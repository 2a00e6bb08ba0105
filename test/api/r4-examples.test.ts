import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOURCE_TYPES } from '../../src/fhir/resource-types.js';
import { BACKENDS, startTestRecord, type TestRecord } from '../support/harness.js';
import { fhir, messages, type Fhir } from '../support/fhir-client.js';

const examplesDir = path.dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.examples/package.json'));
const examples = fs
  .readdirSync(examplesDir)
  .filter((f) => RESOURCE_TYPES.some((t) => f.startsWith(`${t}-`)) && f.endsWith('.json'))
  .map((f) => ({ file: f, resource: JSON.parse(fs.readFileSync(path.join(examplesDir, f), 'utf8')) as Record<string, unknown> }))
  .filter((e) => (RESOURCE_TYPES as readonly string[]).includes(String(e.resource.resourceType)));

/** What the server owns and may change: id, versionId, lastUpdated; narrative is not compared either. */
function content(resource: Record<string, unknown>): Record<string, unknown> {
  const { id: _id, meta, text: _text, ...rest } = resource;
  const { versionId: _v, lastUpdated: _l, ...clientMeta } = (meta as Record<string, unknown>) ?? {};
  return Object.keys(clientMeta).length ? { ...rest, meta: clientMeta } : rest;
}

/**
 * Every official R4 example of the types we hold round-trips: create, read back, same content.
 * The examples refer to resources that are not in the set, so referential integrity is off here.
 */
describe.each(BACKENDS)('official R4 examples round-trip on %s', (backend) => {
  let rec: TestRecord;
  let api: Fhir;
  beforeAll(async () => {
    rec = await startTestRecord(backend, { validation: 'base', config: { refIntegrityOnWrite: false, refIntegrityOnDelete: false } });
    api = fhir(rec.api);
  });
  afterAll(() => rec.close());

  it('has examples of every type', () => {
    expect(examples.length).toBeGreaterThan(100);
    const types = new Set(examples.map((e) => e.resource.resourceType));
    for (const t of RESOURCE_TYPES) expect(types, t).toContain(t);
  });

  it.each(examples.map((e) => [e.file, e.resource] as const))('%s', async (_file, resource) => {
    const created = await api.post(String(resource.resourceType), resource);
    expect(created.status, messages(created.body)).toBe(201);
    const read = await api.get(`${resource.resourceType}/${created.body.id}`);
    expect(read.status).toBe(200);
    expect(content(read.body)).toEqual(content(resource));
  });
});
