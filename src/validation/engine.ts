import type { OperationOutcomeIssue } from 'fhir/r4.js';
import { DEFAULT_LANGUAGE } from '../i18n/language.js';
import { RESOURCE_TYPES } from '../fhir/resource-types.js';
import { MAX_ISSUES, newScope, report, type Ctx, type Json } from './context.js';
import { issue } from '../fhir/errors.js';
import { message } from './messages.js';
import { compilePrimitives } from './primitives.js';
import { ProfileCompiler } from './profile-compiler.js';
import { canonicalUrl, type Registry } from './registry.js';
import { StructureCompiler, type ResourceKind } from './structure-compiler.js';
import { Terminology } from './terminology.js';
import type { ResourceValidator, ValidateOptions } from './index.js';

/** Types compiled at start-up besides the server's own: what arrives in every request. */
const ALWAYS_COMPILED = ['Bundle', 'Parameters', 'OperationOutcome'];

/** The validator proper: compiled once, then `validate` is a walk over the compiled closures. */
export class ValidationEngine implements ResourceValidator {
  readonly terminology: Terminology;
  readonly structures: StructureCompiler;
  readonly profiles: ProfileCompiler;

  constructor(
    readonly registry: Registry,
    private readonly required: Partial<Record<string, string[]>>,
    options: { forceFhirPath?: boolean } = {},
  ) {
    this.terminology = new Terminology(registry);
    this.structures = new StructureCompiler(registry, this.terminology, compilePrimitives([...registry.allStructures()]));
    this.structures.forceFhirPath = options.forceFhirPath === true;
    this.profiles = new ProfileCompiler(this.structures);
    this.structures.profileLookup = (url) => this.profiles.profileValidator(url);
    this.structures.profileHook = (resource, type, path, ctx, kind) => this.applyProfiles(resource, type, path, ctx, kind);
  }

  /**
   * Compiles the server's resource types, every data type, every profile (ours, HL7 Belgium's,
   * the core extensions and core profiles) and the code system index. Other R4 resource types are
   * compiled when they first occur (in a Bundle or contained): about a quarter of a second for all.
   */
  compileAll(): void {
    for (const type of [...RESOURCE_TYPES, ...ALWAYS_COMPILED]) this.structures.resourceValidator(type);
    this.structures.compileAllDataTypes();
    for (const sd of this.registry.allStructures()) {
      if (sd.derivation === 'constraint' && sd.snapshot && sd.kind !== 'logical') this.profiles.precompile(sd.url);
    }
    for (const cs of this.registry.allCodeSystems()) if (cs.url) this.terminology.codeSystem(cs.url);
  }

  profileUrls(): string[] {
    const urls = [...this.registry.localProfiles];
    for (const sd of this.registry.allStructures()) {
      if (sd.kind === 'resource' && !urls.includes(sd.url) && (sd.derivation === 'constraint' || this.registry.resourceTypes.has(sd.type))) urls.push(sd.url);
    }
    return urls;
  }

  /** The project's own profiles of a type, for the CapabilityStatement's supportedProfile. */
  profilesFor(type: string): string[] {
    return this.registry.localProfiles.filter((url) => this.registry.structure(url)?.type === type);
  }

  validate(resource: unknown, options: ValidateOptions = {}): OperationOutcomeIssue[] {
    const root = resource !== null && typeof resource === 'object' && !Array.isArray(resource) ? (resource as Json) : undefined;
    // The root of every location: the resource type when it looks like one.
    const type = typeof root?.resourceType === 'string' && /^[A-Z][A-Za-z]{0,63}$/.test(root.resourceType) ? root.resourceType : 'Resource';
    const ctx: Ctx = {
      issues: [],
      lang: options.lang ?? DEFAULT_LANGUAGE,
      resource: root ?? {},
      resourcePath: type,
      scope: newScope(root ?? {}),
      bundle: undefined,
      depth: 0,
      required: options.baseOnly ? undefined : this.required,
      explicitProfiles: options.profiles,
      resourceTypes: this.registry.resourceTypes,
    };
    try {
      this.structures.validateResource(resource, type, ctx, 'root');
    } catch (e) {
      // A validator bug must not become a 500 or let the resource through unchecked.
      ctx.issues.push({
        severity: 'fatal',
        code: 'exception',
        diagnostics: `validation failed: ${e instanceof Error ? e.message : String(e)}`,
        details: { text: `validation failed: ${e instanceof Error ? e.message : String(e)}` },
        expression: [type],
      });
    }
    const issues = dedupe(ctx.issues);
    // A warning: the dropped issues' own severities stand (a thousand errors are still errors).
    if (ctx.truncated) issues.push(issue('warning', 'too-costly', message('tooManyIssues', ctx.lang, { path: type, max: MAX_ISSUES }), type));
    return issues;
  }

  private applyProfiles(resource: Json, type: string, path: string, ctx: Ctx, kind: ResourceKind): void {
    // Runs for every resource and Bundle entry: plain loops, no closures or sets per call.
    let applied: string[] | undefined;
    const meta = resource.meta;
    if (meta !== null && typeof meta === 'object' && !Array.isArray(meta)) {
      const profiles = (meta as Json).profile;
      if (Array.isArray(profiles)) {
        for (const p of profiles) if (typeof p === 'string') applied = this.applyProfile(p, 'warning', applied, resource, type, path, ctx);
      }
    }
    if (kind === 'root' && ctx.explicitProfiles) {
      for (const p of ctx.explicitProfiles) applied = this.applyProfile(p, 'error', applied, resource, type, path, ctx);
    }
    if ((kind === 'root' || kind === 'entry') && ctx.required) {
      const required = ctx.required[type];
      if (required) for (const p of required) applied = this.applyProfile(p, 'error', applied, resource, type, path, ctx);
    }
  }

  private applyProfile(
    url: string,
    unknownSeverity: 'error' | 'warning',
    applied: string[] | undefined,
    resource: Json,
    type: string,
    path: string,
    ctx: Ctx,
  ): string[] {
    const key = canonicalUrl(url);
    if (applied?.includes(key)) return applied;
    const list = applied ?? [];
    list.push(key);
    const sd = this.registry.structure(key);
    if (!sd) {
      report(ctx, unknownSeverity, 'not-found', path, 'unknownProfile', { url });
      return list;
    }
    if (sd.type !== type) {
      report(ctx, 'error', 'invalid', path, 'profileWrongType', { url, expected: sd.type, found: type });
      return list;
    }
    // A base definition named in meta.profile adds nothing to the base validation already done.
    if (sd.derivation === 'constraint') this.profiles.profileValidator(key)?.(resource, path, ctx);
    return list;
  }
}

/** The same finding reached through two profiles (ours and the HL7 Belgium one it derives from) is reported once. */
function dedupe(issues: OperationOutcomeIssue[]): OperationOutcomeIssue[] {
  if (issues.length < 2) return issues;
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.severity}|${i.code}|${i.expression?.[0] ?? ''}|${i.diagnostics ?? ''}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
