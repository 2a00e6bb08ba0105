import { join } from 'node:path';
import type { FhirService } from '../interactions/fhir-service.js';
import type { WriteCheck } from '../interactions/service-deps.js';
import { defaultProfilesDir } from '../validation/profiles-loader.js';
import { careTeamWriteCheck } from './care-team-check.js';
import type { ResourceStore } from '../store/resource-store.js';
import { CodeDisplays } from './code-displays.js';
import { DirectoryCache } from './directory.js';
import { loadGuidelines, type Guideline } from './guidelines.js';
import { ruleOperations } from './operations.js';
import { RuleBook } from './rule-book.js';
import { MunicipalityData } from './statbel.js';

export interface RulesOptions {
  /** The FHIR package folder (profiles/): code systems and the guidelines (PlanDefinition-*.json). */
  profilesDir?: string;
  /** The rules files (default profiles/rules). */
  rulesDir?: string;
  /** The Statbel files (default fixtures/statbel). */
  statbelDir?: string;
}

/**
 * The rules of the integrated-care record, read and compiled once at start-up: the rules files of
 * the calls for projects and of care teams, the Statbel population data, the code displays in three
 * languages and the multidisciplinary guidelines. Evaluating them needs no further file access.
 */
export class RulesEngine {
  private readonly directories = new WeakMap<ResourceStore, DirectoryCache>();

  constructor(
    readonly book: RuleBook,
    readonly data: MunicipalityData,
    readonly displays: CodeDisplays,
    readonly guidelines: Guideline[],
  ) {}

  static load(options: RulesOptions = {}): RulesEngine {
    const profiles = options.profilesDir ?? defaultProfilesDir();
    return new RulesEngine(
      RuleBook.load(options.rulesDir ?? join(profiles, 'rules')),
      MunicipalityData.load(options.statbelDir),
      CodeDisplays.load(profiles),
      loadGuidelines(profiles),
    );
  }

  /**
   * The care-team rules as a write check. The directory it reads (roles, partnerships, consortia)
   * is cached per database (see DirectoryCache).
   */
  careTeamCheck(): WriteCheck {
    return careTeamWriteCheck({ book: this.book, data: this.data, displays: this.displays, directory: (store) => this.directory(store) });
  }

  /** The directory cache of a store (one per database): PractitionerRoles, partnerships, consortia. */
  directory(store: ResourceStore): DirectoryCache {
    let cache = this.directories.get(store);
    if (!cache) this.directories.set(store, (cache = new DirectoryCache(this.data)));
    return cache;
  }

  /** Adds $check-consortium, $apply and $gaps to the service. */
  registerOperations(service: FhirService): void {
    for (const op of ruleOperations(service.deps, this)) service.operations.register(op);
  }
}

let shared: RulesEngine | undefined;

/** The engine of the default folders, loaded once per process. */
export function defaultRules(): RulesEngine {
  shared ??= RulesEngine.load();
  return shared;
}
