/**
 * Writes profiles/Measure-<id>.json from src/indicators/definitions.ts: the indicators' texts in
 * three languages live with their SQL, the Measures are what FHIR tools and the server read.
 *
 *   npx tsx src/indicators/build-measures.ts          (rewrite the files)
 *   npx tsx src/indicators/build-measures.ts --check  (exit 1 when a committed Measure is stale)
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { defaultProfilesDir } from '../validation/profiles-loader.js';
import { INDICATORS } from './definitions.js';
import { measureFileName, serializeMeasure, staleMeasures } from './measures.js';

function main(): void {
  const dir = defaultProfilesDir();
  if (process.argv.includes('--check')) {
    const stale = staleMeasures(dir);
    if (stale.length) {
      console.error(`stale: ${stale.join(', ')}; run npx tsx src/indicators/build-measures.ts`);
      process.exitCode = 1;
    }
    return;
  }
  for (const def of INDICATORS) writeFileSync(join(dir, measureFileName(def)), serializeMeasure(def));
  console.log(`${INDICATORS.length} Measures written to ${dir}`);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) main();
