import type { CodeSystem, StructureDefinition, ValueSet } from 'fhir/r4.js';

export const FHIR_SD = 'http://hl7.org/fhir/StructureDefinition/';

/** Strips `|version` from a canonical reference. */
export function canonicalUrl(ref: string): string {
  const bar = ref.indexOf('|');
  return bar < 0 ? ref : ref.slice(0, bar);
}

/**
 * Every conformance resource the validator knows, by canonical URL: the R4 base, the core
 * extensions and profiles, and the project's own profiles and terminology.
 */
export class Registry {
  private readonly structures = new Map<string, StructureDefinition>();
  private readonly valueSets = new Map<string, ValueSet>();
  private readonly codeSystems = new Map<string, CodeSystem>();
  /** Concrete resource types of R4 (not abstract, not logical models). */
  readonly resourceTypes = new Set<string>();
  /** URLs of the profiles added from the project's folder (ours), in load order. */
  readonly localProfiles: string[] = [];
  /** Resource type of profiles that are referred to but not available here (e.g. HL7 Belgium core). */
  private readonly externalTypes = new Map<string, string>();

  addStructure(sd: StructureDefinition, local = false): void {
    this.structures.set(sd.url, sd);
    if (sd.kind === 'resource' && sd.derivation === 'specialization' && !sd.abstract && sd.url === FHIR_SD + sd.type) {
      this.resourceTypes.add(sd.type);
    }
    if (local) this.localProfiles.push(sd.url);
  }

  addValueSet(vs: ValueSet): void {
    if (vs.url) this.valueSets.set(vs.url, vs);
  }

  addCodeSystem(cs: CodeSystem): void {
    if (cs.url) this.codeSystems.set(cs.url, cs);
  }

  structure(ref: string): StructureDefinition | undefined {
    return this.structures.get(canonicalUrl(ref));
  }

  /** The base definition of a type or resource, e.g. `HumanName` or `Patient`. */
  baseType(type: string): StructureDefinition | undefined {
    return this.structures.get(FHIR_SD + type);
  }

  /** Records the resource type of a profile that is known by name only. */
  addExternalProfile(url: string, type: string): void {
    this.externalTypes.set(url, type);
  }

  /** The resource or data type a profile constrains, also for external profiles known by name. */
  profileType(ref: string): string | undefined {
    const url = canonicalUrl(ref);
    return this.structures.get(url)?.type ?? this.externalTypes.get(url) ?? (url.startsWith(FHIR_SD) ? url.slice(FHIR_SD.length) : undefined);
  }

  valueSet(ref: string): ValueSet | undefined {
    return this.valueSets.get(canonicalUrl(ref));
  }

  codeSystem(ref: string): CodeSystem | undefined {
    return this.codeSystems.get(canonicalUrl(ref));
  }

  allStructures(): IterableIterator<StructureDefinition> {
    return this.structures.values();
  }

  allCodeSystems(): IterableIterator<CodeSystem> {
    return this.codeSystems.values();
  }
}
