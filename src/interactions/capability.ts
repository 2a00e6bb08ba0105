import type { CapabilityStatement, CapabilityStatementRestResource, CapabilityStatementRestSecurity } from 'fhir/r4.js';
import { RESOURCE_TYPES } from '../fhir/resource-types.js';
import type { SearchParameterRegistry } from '../search/parameters.js';
import { MODIFIERS } from '../search/parameters.js';
import type { ConformanceResources } from './conformance.js';
import type { OperationRegistry } from './operations.js';

export interface CapabilityInputs {
  registry: SearchParameterRegistry;
  operations: OperationRegistry;
  /** Types served read-only (the Measures). */
  conformance?: ConformanceResources;
  profilesFor(type: string): string[];
  version: string;
  /** Added by the security layer. */
  security?: CapabilityStatementRestSecurity;
}

/**
 * The CapabilityStatement, generated from what is registered: types, their search parameters
 * (with the modifiers we implement), includes, operations. Nothing in it is written by hand.
 */
export function buildCapabilityStatement(baseUrl: string, inputs: CapabilityInputs): CapabilityStatement {
  const { registry, operations } = inputs;
  const revIncludes = new Map<string, string[]>();
  for (const source of RESOURCE_TYPES) {
    for (const p of registry.all(source)) {
      if (p.type !== 'reference') continue;
      for (const target of p.targets) revIncludes.set(target, [...(revIncludes.get(target) ?? []), `${source}:${p.code}`]);
    }
  }
  const resources: CapabilityStatementRestResource[] = RESOURCE_TYPES.map((type) => {
    const params = registry.all(type).sort((a, b) => a.code.localeCompare(b.code));
    const profiles = inputs.profilesFor(type);
    return {
      type,
      profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
      ...(profiles.length ? { supportedProfile: profiles } : {}),
      interaction: ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type'].map((code) => ({
        code: code as 'read',
      })),
      versioning: 'versioned-update',
      readHistory: true,
      updateCreate: true,
      conditionalCreate: true,
      conditionalRead: 'full-support',
      conditionalUpdate: true,
      conditionalDelete: 'single',
      referencePolicy: ['literal', 'logical', 'enforced', 'local'],
      searchInclude: ['*', ...params.filter((p) => p.type === 'reference').map((p) => `${type}:${p.code}`)],
      searchRevInclude: revIncludes.get(type) ?? [],
      searchParam: params.map((p) => ({
        name: p.code,
        definition: p.url,
        type: p.type,
        documentation: `${p.description.split('\n')[0]} Modifiers: ${MODIFIERS[p.type].map((m) => `:${m}`).join(' ')}`.trim(),
      })),
      operation: operations
        .all()
        .filter((op) => op.scopes.some((s) => s !== 'system') && (!op.types || op.types.includes(type)))
        .map((op) => ({ name: op.name, definition: op.definition, documentation: op.documentation })),
    };
  });
  for (const type of inputs.conformance?.types() ?? []) {
    resources.push({
      type,
      profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
      documentation: 'Read-only conformance resources of this server (profiles/), not stored and not versioned',
      interaction: [{ code: 'read' }, { code: 'search-type' }],
      searchParam: inputs.conformance!.searchParams().map((name) => ({ name, type: 'token' as const })),
      operation: operations
        .all()
        .filter((op) => op.types?.includes(type))
        .map((op) => ({ name: op.name, definition: op.definition, documentation: op.documentation })),
    });
  }
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    publisher: 'Integrated Care Record',
    kind: 'instance',
    software: { name: 'Integrated Care Record', version: inputs.version },
    implementation: { description: 'The integrated patient record of a Belgian integrated-care region', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    patchFormat: ['application/json-patch+json'],
    rest: [
      {
        mode: 'server',
        ...(inputs.security ? { security: inputs.security } : {}),
        resource: resources,
        interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'history-system' }],
        searchParam: [
          { name: '_count', type: 'number', documentation: 'Page size' },
          { name: '_sort', type: 'string', documentation: 'Sort keys, - for descending' },
          { name: '_include', type: 'special', documentation: 'Include referenced resources (:iterate supported)' },
          { name: '_revinclude', type: 'special', documentation: 'Include referring resources (:iterate supported)' },
          { name: '_summary', type: 'token', documentation: 'true, text, data, count, false' },
          { name: '_elements', type: 'string', documentation: 'Top-level elements to return' },
          { name: '_total', type: 'token', documentation: 'none, estimate, accurate' },
          { name: '_has', type: 'special', documentation: 'Reverse chaining' },
        ],
        operation: operations
          .all()
          .filter((op) => op.scopes.includes('system'))
          .map((op) => ({ name: op.name, definition: op.definition, documentation: op.documentation })),
      },
    ],
  };
}
