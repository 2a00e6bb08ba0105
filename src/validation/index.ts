import type { OperationOutcomeIssue } from 'fhir/r4.js';
import type { Language } from '../i18n/language.js';
import { ValidationEngine } from './engine.js';
import { defaultProfilesDir, loadRegistry, PROFILE_BASE_URL } from './profiles-loader.js';

export { PROFILE_BASE_URL };

export interface ValidateOptions {
  /** Extra profiles (canonical URLs, optionally |version) to check, in addition to meta.profile and the required profile of the type. */
  profiles?: string[];
  /** Language of the issue messages (details.text and diagnostics). Default 'en'. */
  lang?: Language;
  /** When true, only the base specification is checked (no required profile of ours). */
  baseOnly?: boolean;
}

export interface ResourceValidator {
  /** Synchronous and fast; never throws on bad input (any JSON value): everything becomes issues. Unknown profile URL in meta.profile/profiles -> an issue (warning for meta.profile, error for explicitly requested profiles). */
  validate(resource: unknown, options?: ValidateOptions): OperationOutcomeIssue[];
  /** Canonical URLs of every profile loaded (ours and base), for the CapabilityStatement. */
  profileUrls(): string[];
  /** The project's own profiles of a type. */
  profilesFor(type: string): string[];
}

export interface ValidatorConfig {
  /** Required profile per resource type; default: ours from profiles/. Empty object = only the base spec and meta.profile. */
  requiredProfiles?: Partial<Record<string, string[]>>;
  /** Folder with the project's profiles (default: the repository's profiles/ folder, resolved relative to the module, working from both src/ via tsx/vitest and dist/ after tsc). */
  profilesDir?: string;
}

const SD = `${PROFILE_BASE_URL}/StructureDefinition/`;

/** The project's profile of each resource type that has one: what a write must conform to by default. */
export function defaultRequiredProfiles(): Record<string, string[]> {
  return {
    Patient: [SD + 'icr-patient'],
    Practitioner: [SD + 'icr-practitioner'],
    PractitionerRole: [SD + 'icr-practitionerrole'],
    Organization: [SD + 'icr-organization'],
    OrganizationAffiliation: [SD + 'icr-organizationaffiliation'],
    CareTeam: [SD + 'icr-careteam'],
    CarePlan: [SD + 'icr-careplan'],
    Goal: [SD + 'icr-goal'],
    RelatedPerson: [SD + 'icr-relatedperson'],
    Consent: [SD + 'icr-consent'],
  };
}

/**
 * Loads the R4 definitions and the project's profiles and compiles every check once. The returned
 * validator is immutable and safe to share between requests.
 */
export async function createValidator(config: ValidatorConfig = {}): Promise<ResourceValidator> {
  const registry = loadRegistry(config.profilesDir ?? defaultProfilesDir());
  const required = config.requiredProfiles ?? defaultRequiredProfiles();
  for (const [type, urls] of Object.entries(required)) {
    for (const url of urls ?? []) {
      const sd = registry.structure(url);
      if (!sd) throw new Error(`required profile for ${type} not found: ${url}`);
      if (sd.type !== type) throw new Error(`required profile ${url} is for ${sd.type}, not ${type}`);
    }
  }
  const engine = new ValidationEngine(registry, required);
  engine.compileAll();
  return engine;
}
