import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OperationOutcome } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import { runValidateCommand } from '../../src/cli/validate-command.js';

const dir = new URL('./fixtures/cli/', import.meta.url).pathname;

async function run(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await runValidateCommand(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe('icr validate', () => {
  it('exits 0 for a valid file and says so', async () => {
    const r = await run(join(dir, 'patient-valid.json'));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/patient-valid.json: valid/);
    expect(r.out).toMatch(/1 file checked, 0 errors/);
  });

  it('exits 1 for an invalid file and prints severity, expression and message', async () => {
    const r = await run(join(dir, 'patient-invalid.json'));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/patient-invalid.json: 1 error, 0 warnings/);
    expect(r.out).toMatch(/ {2}error +Patient\.gender {2}'mail' is not in the value set AdministrativeGender \(male, female, other, unknown\)/);
  });

  it('prints one OperationOutcome per file with --json', async () => {
    const r = await run('--json', join(dir, 'patient-valid.json'), join(dir, 'patient-invalid.json'));
    expect(r.code).toBe(1);
    const outcomes = r.out.trim().split('\n').map((l) => JSON.parse(l) as OperationOutcome);
    expect(outcomes).toHaveLength(2);
    expect(outcomes[0].issue).toEqual([expect.objectContaining({ severity: 'information', code: 'informational' })]);
    expect(outcomes[1].issue).toEqual([expect.objectContaining({ severity: 'error', code: 'code-invalid', expression: ['Patient.gender'] })]);
    expect(outcomes[1].extension?.[0].valueString).toMatch(/patient-invalid.json$/);
  });

  it('validates NDJSON line by line and reports the line', async () => {
    const r = await run('--json', join(dir, 'practitioners.ndjson'));
    expect(r.code).toBe(1);
    const [outcome] = r.out.trim().split('\n').map((l) => JSON.parse(l) as OperationOutcome);
    expect(outcome.issue).toEqual([
      expect.objectContaining({ severity: 'error', code: 'required', expression: ['Practitioner.name'], location: ['Line 3'] }),
      expect.objectContaining({ severity: 'fatal', code: 'structure', location: ['Line 4'] }),
    ]);
  });

  it('reports broken JSON as fatal', async () => {
    const r = await run(join(dir, 'broken.json'));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/fatal +not valid JSON/);
  });

  it('walks a folder', async () => {
    const r = await run(dir);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/4 files checked/);
  });

  it('checks an extra profile with --profile, and refuses an unknown one', async () => {
    const unknown = await run('--profile', 'https://example.org/StructureDefinition/nope', join(dir, 'patient-valid.json'));
    expect(unknown.code).toBe(1);
    expect(unknown.out).toMatch(/error +Patient {2}the profile https:\/\/example.org\/StructureDefinition\/nope is unknown/);
  });

  it('checks only the base specification with --base-only, in the language asked', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'icr-validate-'));
    const file = join(tmp, 'p.json');
    writeFileSync(file, JSON.stringify({ resourceType: 'Patient', text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">x</div>' }, gender: 'male' }));
    expect((await run(file)).code).toBe(1); // ICR Patient wants a name and a birth date
    const r = await run('--base-only', '--lang', 'nl', file);
    expect(r.code).toBe(0);
    writeFileSync(file, JSON.stringify({ resourceType: 'Patient', text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">x</div>' }, gender: 'man' }));
    const nl = await run('--base-only', '--lang', 'nl', file);
    expect(nl.out).toMatch(/'man' zit niet in de waardelijst AdministrativeGender/);
  });

  it('exits 2 on bad usage', async () => {
    expect((await run()).code).toBe(2);
    expect((await run('--frobnicate', dir)).code).toBe(2);
    expect((await run('--lang', 'de', dir)).code).toBe(2);
    const missing = await run(join(dir, 'does-not-exist.json'));
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/no such file or folder/);
  });
});
