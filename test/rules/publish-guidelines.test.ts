import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRecord, type TestRecord } from '../support/harness.js';

describe('guidelines published at start-up', () => {
  let rec: TestRecord;
  beforeAll(async () => {
    rec = await startTestRecord('postgres');
  });
  afterAll(() => rec.close());

  it('can be read and searched as PlanDefinitions', async () => {
    const res = await rec.api.get('/fhir/PlanDefinition/guideline-diabetes-type2');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text).status).toBe('active');
    const all = JSON.parse((await rec.api.get('/fhir/PlanDefinition?status=active&_count=50')).text);
    expect(all.entry.map((e: { resource: { id: string } }) => e.resource.id).sort()).toEqual([
      'guideline-copd',
      'guideline-diabetes-type2',
      'guideline-frail-older-person',
      'guideline-heart-failure',
    ]);
  });

  it('makes no new version when a replica starts again with the same guidelines', async () => {
    const again = await startTestRecord('postgres', { shareSchemaOf: rec });
    await again.close();
    const history = JSON.parse((await rec.api.get('/fhir/PlanDefinition/guideline-copd/_history')).text);
    expect(history.total).toBe(1);
  });
});
