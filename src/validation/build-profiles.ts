/**
 * Regenerates the snapshots of the project's profiles in profiles/ from their differentials, and
 * the package's .index.json, so that FHIR tools that do not generate snapshots (HAPI loading a
 * package) get complete StructureDefinitions. The differential is the source: edit it, then run
 *
 *   npx tsx src/validation/build-profiles.ts          (rewrite the files)
 *   npx tsx src/validation/build-profiles.ts --check  (exit 1 when a committed snapshot is stale)
 *
 * At start-up the validator uses the committed snapshots; only a profile without a snapshot (for
 * instance in a folder passed as profilesDir) gets one generated then.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { StructureDefinition } from 'fhir/r4.js';
import { defaultProfilesDir, loadRegistry, PROFILE_BASE_URL, readPackageFolder } from './profiles-loader.js';
import { completeSnapshots } from './snapshot.js';

function fileName(r: { resourceType: string; id?: string }): string {
  return `${r.resourceType}-${r.id}.json`;
}

function serialize(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

/** The files of the folder as they should be: our profiles with fresh snapshots, and .index.json. */
export function buildProfiles(dir: string): Map<string, string> {
  const registry = loadRegistry(dir);
  const ours = readPackageFolder(dir).filter(
    (r): r is StructureDefinition => r.resourceType === 'StructureDefinition' && r.url.startsWith(PROFILE_BASE_URL) && r.derivation === 'constraint',
  );
  for (const sd of ours) delete sd.snapshot;
  completeSnapshots(ours, (url) => ours.find((p) => p.url === url) ?? registry.structure(url));
  const out = new Map<string, string>();
  for (const sd of ours) {
    // Keep the conventional order: snapshot before differential.
    const { differential, ...rest } = sd;
    out.set(fileName(sd), serialize({ ...rest, differential }));
  }
  const files = readPackageFolder(dir).map((r) => ({
    filename: fileName(r),
    resourceType: r.resourceType,
    id: r.id,
    url: r.url,
    version: r.version,
    ...(r.resourceType === 'StructureDefinition' ? { kind: r.kind, type: r.type, derivation: r.derivation } : {}),
  }));
  out.set('.index.json', serialize({ 'index-version': 1, files }));
  return out;
}

/** Files whose committed content differs from what buildProfiles produces. */
export function staleProfiles(dir: string): string[] {
  const stale: string[] = [];
  for (const [file, content] of buildProfiles(dir)) {
    let current = '';
    try {
      current = readFileSync(join(dir, file), 'utf8');
    } catch {
      // missing: stale
    }
    if (current !== content) stale.push(file);
  }
  return stale;
}

async function main(): Promise<void> {
  const dir = defaultProfilesDir();
  if (process.argv.includes('--check')) {
    const stale = staleProfiles(dir);
    if (stale.length) {
      console.error(`stale: ${stale.join(', ')}; run npx tsx src/validation/build-profiles.ts`);
      process.exitCode = 1;
    }
    return;
  }
  for (const [file, content] of buildProfiles(dir)) writeFileSync(join(dir, file), content);
  console.log(`profiles written to ${dir}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
