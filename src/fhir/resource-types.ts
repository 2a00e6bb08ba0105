/**
 * The resource types this server holds. This list is the single source of truth: routes, the
 * CapabilityStatement, search parameter loading, validation and the CLI all derive from it.
 */
export const RESOURCE_TYPES = [
  'Patient',
  'CareTeam',
  'CarePlan',
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'OrganizationAffiliation',
  'RelatedPerson',
  'Condition',
  'Goal',
  'PlanDefinition',
  'Consent',
  'AuditEvent',
  'Group',
] as const;

export type ResourceType = (typeof RESOURCE_TYPES)[number];

const TYPE_SET: ReadonlySet<string> = new Set(RESOURCE_TYPES);

export function isResourceType(value: string): value is ResourceType {
  return TYPE_SET.has(value);
}

let r4Types: ReadonlySet<string> | undefined;

/** Whether a name is a resource type of FHIR R4 at all (held here or not). */
export function isR4ResourceType(value: string, allTypes: () => Iterable<string>): boolean {
  r4Types ??= new Set(allTypes());
  return r4Types.has(value);
}
