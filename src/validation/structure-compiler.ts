import type { ElementDefinition, ElementDefinitionConstraint, StructureDefinition } from 'fhir/r4.js';
import { idx, newScope, report, sourceSuffix, type Ctx, type Json } from './context.js';
import { BINDABLE, compileBinding, type BindingCheck } from './bindings.js';
import { buildElementTree, choiceJsonName, maxOf, typeCodeOf, type ElementNode } from './element-tree.js';
import { compileInvariant, isStructural, referencedType, type CompiledInvariant } from './invariants.js';
import { describeValue } from './messages.js';
import { checkXhtml, reportPrimitive, type PrimitiveCheck } from './primitives.js';
import type { Registry } from './registry.js';
import { knownDisplay, type Terminology } from './terminology.js';

/**
 * Compiles the R4 base definitions into one specialised closure per element: a property table
 * (JSON key -> checker) per object type, with cardinality, JSON shape, primitive formats, bindings,
 * reference targets and invariants resolved at compile time. Validating then costs one table
 * lookup per JSON property and no look-ups in StructureDefinitions at all.
 */

/** Validates one occurrence of an element. `index` is its position in its array (-1 when single). */
export type ItemValidator = (item: unknown, path: string, ctx: Ctx, index: number) => void;
export type ObjectValidator = (value: unknown, path: string, ctx: Ctx) => void;

export type ResourceKind = 'root' | 'entry' | 'contained' | 'parameter';

/** Called after a resource's base validation, to apply meta.profile and the required profiles. */
export type ProfileHook = (resource: Json, type: string, path: string, ctx: Ctx, kind: ResourceKind) => void;

/** Extension definitions and type profiles (SimpleQuantity, ...) are profiles: the profile compiler supplies their checks. */
export type ProfileLookup = (url: string) => ObjectValidator | undefined;

interface Handler {
  (value: unknown, obj: Json, path: string, ctx: Ctx): void;
}

interface RequiredProp {
  keys: string[];
  name: string;
  min: number;
}

const MAX_DEPTH = 64;


function levenshtein(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}

export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const lower = name.toLowerCase();
  for (const c of candidates) {
    if (c.startsWith('_')) continue;
    const d = c.toLowerCase() === lower ? 0 : levenshtein(lower, c.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

function count(value: unknown): number {
  if (value === undefined || value === null) return 0;
  return Array.isArray(value) ? value.length : 1;
}

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export class StructureCompiler {
  private readonly types = new Map<string, ObjectValidator>();
  private readonly typeCompilers = new Map<string, () => ObjectValidator>();
  private readonly resources = new Map<string, ObjectValidator>();
  private readonly inline = new Map<string, ObjectValidator>();
  private readonly trees = new Map<string, ElementNode>();
  /** Constraint keys+expressions declared on each complex type's root, evaluated by that type's validator. */
  private readonly typeRootConstraints = new Map<string, Set<string>>();
  private readonly partValidators = new Map<string, ObjectValidator>();
  private readonly ancestorCache = new Map<string, Set<string>>();
  private readonly contextCache = new Map<string, ((holderType: string, holderPath: string) => boolean) | null>();
  /** Tests only: evaluate every invariant with fhirpath.js, to compare the native implementations with it. */
  forceFhirPath = false;
  profileHook: ProfileHook | undefined;
  profileLookup: ProfileLookup | undefined;

  constructor(
    readonly registry: Registry,
    readonly terminology: Terminology,
    readonly primitives: Map<string, PrimitiveCheck>,
  ) {}

  tree(sd: StructureDefinition): ElementNode {
    let t = this.trees.get(sd.url);
    if (!t) {
      if (!sd.snapshot) throw new Error(`${sd.url} has no snapshot`);
      t = buildElementTree(sd.snapshot.element);
      this.trees.set(sd.url, t);
    }
    return t;
  }

  /** The validator of a complex data type, compiled on first use (types refer to each other recursively). */
  typeValidator(code: string): ObjectValidator {
    let v = this.types.get(code);
    if (v) return v;
    let compiled: ObjectValidator | undefined;
    const compile = () => (compiled ??= this.compileType(code));
    // Registered before compiling, so that recursive types (Extension, Identifier.assigner) resolve.
    v = (value, path, ctx) => (compiled ?? compile())(value, path, ctx);
    this.types.set(code, v);
    this.typeCompilers.set(code, compile);
    return v;
  }

  private compileType(code: string): ObjectValidator {
    const sd = this.registry.baseType(code);
    if (!sd) throw new Error(`unknown data type ${code}`);
    const root = this.tree(sd);
    return this.compileObject(root, sd, code, 'datatype');
  }

  /** Compiles every complex data type now rather than on first use. */
  compileAllDataTypes(): void {
    for (const sd of this.registry.allStructures()) {
      if (sd.kind === 'complex-type' && sd.derivation === 'specialization' && !sd.abstract && sd.url.endsWith('/' + sd.type)) {
        this.typeValidator(sd.type);
        this.typeCompilers.get(sd.type)?.();
      }
    }
  }

  hasResourceType(type: string): boolean {
    return this.registry.resourceTypes.has(type);
  }

  /** The base validator of a resource type (without profiles). */
  resourceValidator(type: string): ObjectValidator {
    let v = this.resources.get(type);
    if (!v) {
      const sd = this.registry.baseType(type);
      if (!sd) throw new Error(`unknown resource type ${type}`);
      v = this.compileObject(this.tree(sd), sd, type, 'resource');
      this.resources.set(type, v);
    }
    return v;
  }

  private rootConstraintKeys(code: string): Set<string> {
    let keys = this.typeRootConstraints.get(code);
    if (!keys) {
      const sd = this.registry.baseType(code);
      keys = new Set((sd?.snapshot?.element[0]?.constraint ?? []).map((c) => c.key + '|' + c.expression));
      this.typeRootConstraints.set(code, keys);
    }
    return keys;
  }

  compileInvariants(constraints: ElementDefinitionConstraint[] | undefined, elementPath: string, skip?: Set<string>, source?: string): CompiledInvariant[] {
    const out: CompiledInvariant[] = [];
    for (const c of constraints ?? []) {
      if (isStructural(c) || skip?.has(c.key + '|' + c.expression)) continue;
      const inv = compileInvariant(c, { elementPath, source, forceFhirPath: this.forceFhirPath });
      if (inv) out.push(inv);
    }
    return out;
  }

  /** Binding check for one type of an element, when the binding is required/extensible and its value set expands. */
  bindingFor(def: ElementDefinition, typeCode: string, source?: string): BindingCheck | undefined {
    const b = def.binding;
    if (!b?.valueSet || (b.strength !== 'required' && b.strength !== 'extensible') || !BINDABLE.has(typeCode)) return undefined;
    const vs = this.terminology.valueSet(b.valueSet);
    return vs ? compileBinding(vs, b.strength, typeCode, source) : undefined;
  }

  /** Allowed target resource types of a Reference, or undefined when any is allowed. */
  targetTypes(targetProfiles: string[] | undefined): Set<string> | undefined {
    if (!targetProfiles?.length) return undefined;
    const types = new Set<string>();
    for (const url of targetProfiles) {
      const type = this.registry.profileType(url);
      if (type === undefined || type === 'Resource' || type === 'DomainResource') return undefined;
      types.add(type);
    }
    return types;
  }

  referenceCheck(allowed: Set<string>, source?: string): ItemValidator {
    const list = [...allowed].join(', ');
    return (item, path, ctx) => {
      if (!isObject(item)) return;
      const ref = item.reference;
      if (typeof ref === 'string' && ref !== '#') {
        const type = referencedType(ref, ctx);
        if (type !== undefined && !allowed.has(type)) {
          report(ctx, 'error', 'structure', path, 'referenceTarget', { found: type, allowed: list, source: sourceSuffix(ctx, source) });
          return;
        }
      }
      if (typeof item.type === 'string' && !allowed.has(item.type)) {
        report(ctx, 'error', 'structure', path, 'referenceTarget', { found: item.type, allowed: list, source: sourceSuffix(ctx, source) });
      }
    };
  }

  /** Dispatches on resourceType: used for contained, Bundle.entry.resource and Parameters resources. */
  validateResource(value: unknown, path: string, ctx: Ctx, kind: ResourceKind, index = -1): void {
    if (!isObject(value)) {
      report(ctx, 'error', 'structure', path, 'notAResource', { found: describeValue(value) });
      return;
    }
    const type = value.resourceType;
    if (typeof type !== 'string') {
      report(ctx, 'error', 'structure', path, 'missingResourceType');
      return;
    }
    if (!this.registry.resourceTypes.has(type)) {
      const sd = this.registry.baseType(type);
      if (sd?.kind === 'resource') report(ctx, 'error', 'structure', path, 'abstractResourceType', { found: type });
      else {
        const hint = closest(type, this.registry.resourceTypes);
        report(ctx, 'error', 'structure', path, 'unknownResourceType', { found: type, hint: hint ? ` (${hint}?)` : '' });
      }
      return;
    }
    if (ctx.depth > MAX_DEPTH) {
      report(ctx, 'error', 'structure', path, 'tooDeep', { max: MAX_DEPTH });
      return;
    }
    const validator = this.resourceValidator(type);
    const savedResource = ctx.resource;
    const savedResourcePath = ctx.resourcePath;
    const savedScope = ctx.scope;
    const savedBundle = ctx.bundle;
    ctx.resource = value;
    ctx.resourcePath = path;
    if (kind === 'contained') ctx.scope.containedIndex = index;
    else ctx.scope = newScope(value);
    ctx.depth++;
    try {
      validator(value, path, ctx);
      this.profileHook?.(value, type, path, ctx, kind);
    } finally {
      ctx.depth--;
      ctx.resource = savedResource;
      ctx.resourcePath = savedResourcePath;
      if (kind === 'contained') ctx.scope.containedIndex = -1;
      ctx.scope = savedScope;
      ctx.bundle = savedBundle;
    }
  }

  /**
   * Compiles an element that has children (a resource, a data type, or a backbone element) into
   * one validator function for its JSON object.
   */
  compileObject(node: ElementNode, sd: StructureDefinition, typeName: string, role: 'resource' | 'datatype' | 'backbone', checkEmpty = role !== 'resource'): ObjectValidator {
    const handlers: Record<string, Handler> = Object.create(null);
    const required: RequiredProp[] = [];
    const choiceGroups: string[][] = [];
    const isResource = role === 'resource';
    const rootPath = node.def.path;

    for (const child of node.children) {
      this.addChild(child, sd, typeName, role, handlers, required, choiceGroups);
    }
    if (isResource) {
      // Resource.id is written as a FHIRPath String in R4 snapshots but is an `id` (the HL7 validator checks its format).
      const idCheck = this.primitives.get('id')!;
      if (handlers.id) {
        handlers.id = (value, _obj, path, ctx) => {
          const failure = idCheck.check(value);
          if (failure) reportPrimitive(ctx, path + '.id', idCheck, value, failure);
        };
      }
    }

    const rootInvariants = this.compileInvariants(node.def.constraint, rootPath);
    const isReference = typeName === 'Reference' && role === 'datatype';
    const isCoding = typeName === 'Coding' && role === 'datatype';
    const isBundle = typeName === 'Bundle' && isResource;
    const hasContained = isResource && handlers.contained !== undefined;
    const keysForHint = Object.keys(handlers);
    const displayType = role === 'backbone' ? rootPath : typeName;

    return (value, path, ctx) => {
      if (!isObject(value)) {
        report(ctx, 'error', 'structure', path, 'notObject', { type: displayType, found: describeValue(value) });
        return;
      }
      let children = 0;
      let savedBundle: Map<string, string> | undefined;
      if (isBundle) {
        savedBundle = ctx.bundle;
        ctx.bundle = bundleScope(value);
      }
      for (const key in value) {
        const h = handlers[key];
        if (h !== undefined) {
          h(value[key], value, path, ctx);
          if (key !== 'id') children++;
        } else if (key === 'resourceType' && isResource) {
          // checked by the dispatcher
        } else {
          // Suggestions only for plausible names: a body full of junk keys must not cost a Levenshtein each.
          const hint = key.length <= 40 && ctx.issues.length < 100 ? closest(key, keysForHint) : undefined;
          report(ctx, 'error', 'structure', path + '.' + key, 'unknownProperty', {
            name: key,
            type: displayType,
            hint: hint ? `; ${hint}?` : '',
          });
          children++;
        }
      }
      if (checkEmpty && children === 0) report(ctx, 'error', 'invariant', path, 'emptyElement');
      for (let i = 0; i < required.length; i++) {
        const r = required[i];
        let n = 0;
        for (const k of r.keys) n = Math.max(n, count(value[k]));
        if (n < r.min) report(ctx, 'error', 'required', path + '.' + r.name, 'minCardinality', { name: r.name, min: r.min, count: n, source: '' });
      }
      for (let g = 0; g < choiceGroups.length; g++) {
        const keys = choiceGroups[g];
        let present = 0;
        const names: string[] = [];
        for (const k of keys) {
          if (value[k] !== undefined && !k.startsWith('_')) {
            present++;
            names.push(k);
          } else if (k.startsWith('_') && value[k] !== undefined && value[k.slice(1)] === undefined) {
            present++;
            names.push(k);
          }
        }
        if (present > 1) report(ctx, 'error', 'structure', path, 'choiceMultiple', { names: names.join(', ') });
      }
      if (isReference) checkContainedReference(value, path, ctx);
      if (isCoding) this.checkKnownCode(value, path, ctx);
      if (hasContained && ctx.scope.root === value && ctx.scope.refs !== undefined) checkContainedReferenced(value, path, ctx);
      if (isBundle) {
        checkBundleFullUrls(value, path, ctx);
        ctx.bundle = savedBundle;
      }
      for (let i = 0; i < rootInvariants.length; i++) rootInvariants[i].check(value, path, ctx);
    };
  }

  private addChild(
    child: ElementNode,
    sd: StructureDefinition,
    typeName: string,
    role: 'resource' | 'datatype' | 'backbone',
    handlers: Record<string, Handler>,
    required: RequiredProp[],
    choiceGroups: string[][],
  ): void {
    const def = child.def;
    const max = maxOf(def.base?.max ?? def.max);
    const isArray = max > 1;
    const isChoice = child.name.endsWith('[x]');
    const baseName = isChoice ? child.name.slice(0, -3) : child.name;
    const keys: string[] = [];

    if (def.contentReference) {
      const target = def.contentReference.slice(def.contentReference.indexOf('#') + 1);
      const item = this.contentReferenceValidator(sd, target);
      handlers[baseName] = this.arrayHandler(baseName, '.' + baseName, isArray, max, item);
      keys.push(baseName);
    } else {
      for (const t of def.type ?? []) {
        const code = typeCodeOf(t);
        const jsonName = isChoice ? choiceJsonName(baseName, code) : baseName;
        const seg = isChoice ? `.${baseName}.ofType(${code})` : '.' + baseName;
        const item = this.itemValidatorFor(child, sd, typeName, role, code, t.targetProfile, jsonName);
        const primitive = this.primitives.get(code);
        if (primitive !== undefined) {
          handlers[jsonName] = this.arrayHandler(jsonName, seg, isArray, max, item, true);
          if (!code.startsWith('System.') && code !== 'xhtml') {
            handlers['_' + jsonName] = this.primitiveElementHandler(jsonName, seg, isArray, code, def.path);
            keys.push('_' + jsonName);
          }
        } else {
          handlers[jsonName] = this.arrayHandler(jsonName, seg, isArray, max, item);
        }
        keys.push(jsonName);
      }
    }
    if (isChoice && keys.length > 1) choiceGroups.push(keys);
    if ((def.min ?? 0) > 0) required.push({ keys, name: baseName, min: def.min ?? 0 });
  }

  private contentReferenceValidator(sd: StructureDefinition, targetId: string): ItemValidator {
    const key = sd.url + '#' + targetId;
    return (item, path, ctx) => {
      let v = this.inline.get(key);
      if (!v) {
        const node = findNode(this.tree(sd), targetId);
        if (!node) throw new Error(`contentReference ${key} not found`);
        v = this.compileObject(node, sd, sd.type, 'backbone');
        this.inline.set(key, v);
      }
      if (ctx.depth > MAX_DEPTH) {
        report(ctx, 'error', 'structure', path, 'tooDeep', { max: MAX_DEPTH });
        return;
      }
      ctx.depth++;
      v(item, path, ctx);
      ctx.depth--;
    };
  }

  /** Builds the checks for one type of one element: structure, binding, reference targets, invariants. */
  private itemValidatorFor(
    child: ElementNode,
    sd: StructureDefinition,
    typeName: string,
    role: 'resource' | 'datatype' | 'backbone',
    code: string,
    targetProfile: string[] | undefined,
    jsonName: string,
  ): ItemValidator {
    const def = child.def;
    const checks: ItemValidator[] = [];
    const primitive = this.primitives.get(code);
    const path = def.path;

    if (primitive !== undefined) {
      const isRef = code === 'uri' || code === 'url' || code === 'canonical';
      const isXhtml = code === 'xhtml';
      checks.push((item, p, ctx) => {
        const failure = primitive.check(item);
        if (failure) reportPrimitive(ctx, p, primitive, item, failure);
        else if (isXhtml) checkXhtml(ctx, p, item as string);
        if (isRef && ctx.scope.refs !== undefined && typeof item === 'string') collectRef(item, ctx);
      });
    } else if (code === 'Resource') {
      const kind: ResourceKind = jsonName === 'contained' ? 'contained' : path === 'Bundle.entry.resource' ? 'entry' : 'parameter';
      checks.push((item, p, ctx, index) => this.validateResource(item, p, ctx, kind, index));
    } else if (this.registry.resourceTypes.has(code)) {
      // An element typed by a resource (Bundle.entry.response.outcome: OperationOutcome).
      checks.push((item, p, ctx) => {
        if (isObject(item) && item.resourceType !== code) {
          report(ctx, 'error', 'structure', p, 'notObject', { type: code, found: describeValue(item.resourceType) });
          return;
        }
        this.validateResource(item, p, ctx, 'parameter');
      });
    } else if ((code === 'BackboneElement' || code === 'Element') && child.children.length > 0) {
      checks.push(this.compileObject(child, sd, typeName, 'backbone'));
    } else if (code === 'Extension' && (child.name === 'extension' || child.name === 'modifierExtension')) {
      const nested = typeName === 'Extension' && role === 'datatype';
      const modifier = child.name === 'modifierExtension';
      const base = this.typeValidator('Extension');
      const holder = role === 'backbone' ? 'BackboneElement' : typeName;
      // The element path in its definition (HumanName.family, Questionnaire.item): contexts name
      // those, also where the element sits deeper at run time (Patient.name.family, item.item).
      const staticPath = path.slice(0, path.lastIndexOf('.'));
      const part = typeName === 'Element' || this.primitives.has(typeName);
      checks.push((item, p, ctx) => this.validateExtension(item, p, ctx, base, nested, modifier, holder, part ? ctx.primitivePath : staticPath));
    } else {
      checks.push(this.typeValidator(code));
    }

    const binding = this.bindingFor(def, code);
    if (binding) checks.push(binding);
    const typeProfile = def.type?.find((t) => typeCodeOf(t) === code)?.profile;
    if (typeProfile?.length === 1 && code !== 'Extension') {
      const url = typeProfile[0];
      let v: ObjectValidator | undefined | null;
      checks.push((item, p, ctx) => {
        if (v === undefined) v = this.profileLookup?.(url) ?? null;
        v?.(item, p, ctx);
      });
    }
    if (code === 'Reference') {
      const allowed = this.targetTypes(targetProfile);
      if (allowed) checks.push(this.referenceCheck(allowed));
    }
    const isComplexType = primitive === undefined && code !== 'BackboneElement' && code !== 'Element' && code !== 'Resource';
    const skip = isComplexType ? this.rootConstraintKeys(code) : undefined;
    const invariants = this.compileInvariants(def.constraint, path, skip);
    for (const inv of invariants) checks.push((item, p, ctx) => inv.check(item, p, ctx));

    if (checks.length === 1) return checks[0];
    return (item, p, ctx, index) => {
      for (let i = 0; i < checks.length; i++) checks[i](item, p, ctx, index);
    };
  }

  /** A code of a code system known completely here must exist in it, bound or not. */
  private checkKnownCode(coding: Json, path: string, ctx: Ctx): void {
    const system = coding.system;
    const code = coding.code;
    if (typeof system !== 'string' || typeof code !== 'string') return;
    const cs = this.terminology.codeSystem(system);
    if (!cs) return;
    const key = cs.caseSensitive ? code : code.toLowerCase();
    if (!cs.codes.has(key)) {
      report(ctx, 'error', 'code-invalid', path + '.code', 'unknownCode', { code, system });
      return;
    }
    const display = coding.display;
    const known = cs.displays.get(key);
    if (typeof display === 'string' && known?.length && !knownDisplay(known, display)) {
      // A warning, as in the HL7 validator: the code carries the meaning, the display is for people.
      report(ctx, 'warning', 'code-invalid', path + '.display', 'wrongDisplay', {
        display,
        system,
        code,
        expected: known.slice(0, 3).map((d) => `'${d}'`).join(', '),
      });
    }
  }

  /** Types a type derives from (Age -> Quantity -> Element -> Base), for extension contexts. */
  private ancestors(type: string): Set<string> {
    let set = this.ancestorCache.get(type);
    if (!set) {
      set = new Set([type]);
      let sd = this.registry.baseType(type);
      while (sd?.baseDefinition) {
        const parent = this.registry.structure(sd.baseDefinition);
        if (!parent || set.has(parent.type)) break;
        set.add(parent.type);
        sd = parent;
      }
      this.ancestorCache.set(type, set);
    }
    return set;
  }

  /**
   * Where an extension may be used (its StructureDefinition.context), as a test on the type and
   * the element path of the element holding it; undefined when it may be used anywhere.
   */
  private extensionContext(url: string): ((holderType: string, holderPath: string) => boolean) | undefined {
    if (this.contextCache.has(url)) return this.contextCache.get(url) ?? undefined;
    const contexts = (this.registry.structure(url)?.context ?? []).filter((c) => c.type === 'element').map((c) => c.expression);
    let test: ((holderType: string, holderPath: string) => boolean) | null = null;
    if (contexts.length && !contexts.includes('Element') && !contexts.includes('Base')) {
      const set = new Set(contexts.map((c) => (c.endsWith('[x]') ? c.slice(0, -3) : c)));
      test = (holderType, holderPath) => {
        if (set.has(holderPath)) return true;
        for (const t of this.ancestors(holderType)) if (set.has(t)) return true;
        return false;
      };
    }
    this.contextCache.set(url, test);
    return test ?? undefined;
  }

  validateExtension(
    item: unknown,
    path: string,
    ctx: Ctx,
    base: ObjectValidator,
    nested: boolean,
    modifier: boolean,
    holder = 'Element',
    staticPath?: string,
  ): void {
    if (ctx.depth > MAX_DEPTH) {
      report(ctx, 'error', 'structure', path, 'tooDeep', { max: MAX_DEPTH });
      return;
    }
    ctx.depth++;
    base(item, path, ctx);
    ctx.depth--;
    if (!isObject(item)) return;
    // ext-1, checked here rather than through FHIRPath: it is on every extension of every resource.
    let hasValue = false;
    for (const k in item) {
      if (k.length > 5 && k.startsWith('value')) hasValue = true;
      else if (k.length > 6 && k.startsWith('_value')) hasValue = true;
    }
    const hasChildren = Array.isArray(item.extension) && item.extension.length > 0;
    if (hasValue === hasChildren) report(ctx, 'error', 'invariant', path, 'extensionValueAndChildren');
    const url = item.url;
    if (typeof url !== 'string' || url.length === 0) return;
    const absolute = /^[a-z][a-z0-9+.-]*:/i.test(url);
    if (!absolute) {
      // Relative urls name the parts of a complex extension; the extension's definition checks them.
      if (!nested) report(ctx, 'error', 'structure', path + '.url', 'extensionUrlNotAbsolute', { url });
      return;
    }
    const check = this.profileLookup?.(url);
    if (check) {
      ctx.depth++;
      check(item, path, ctx);
      ctx.depth--;
      const allowed = nested ? undefined : this.extensionContext(url);
      if (allowed) {
        if (!(staticPath !== undefined && allowed(holder, staticPath)) && !allowed(holder, elementPathOf(path, ctx))) {
          const contexts = (this.registry.structure(url)?.context ?? []).map((c) => c.expression).join(', ');
          // A warning, where the HL7 validator reports an error: the specification's own definition
          // bundles use core extensions outside their declared contexts (structuredefinition-fhir-type
          // on ElementDefinition.type, normative-version on ValueSets), so the declared contexts are
          // not reliable enough to refuse a write on.
          report(ctx, 'warning', 'extension', path, 'extensionContext', { url, contexts });
        }
      }
    } else if (modifier) report(ctx, 'error', 'extension', path, 'unknownModifierExtension', { url });
    else report(ctx, 'warning', 'extension', path, 'unknownExtension', { url });
  }

  private arrayHandler(name: string, seg: string, isArray: boolean, max: number, item: ItemValidator, primitive = false): Handler {
    const maxText = Number.isFinite(max) ? String(max) : '*';
    if (isArray) {
      return (value, obj, path, ctx) => {
        if (!Array.isArray(value)) {
          report(ctx, 'error', 'structure', path + seg, 'mustBeArray', { name, max: maxText });
          if (value !== null) item(value, path + seg, ctx, -1);
          return;
        }
        if (value.length === 0) {
          report(ctx, 'error', 'structure', path + seg, 'emptyArray', { name });
          return;
        }
        const ext = primitive ? obj['_' + name] : undefined;
        for (let i = 0; i < value.length; i++) {
          const v = value[i];
          if (v === null) {
            // A null value is a placeholder for an element that only has extensions in `_name`.
            if (!primitive || !Array.isArray(ext) || ext[i] === null || ext[i] === undefined) {
              report(ctx, 'error', 'structure', path + seg + idx(i), 'nullValue');
            }
            continue;
          }
          item(v, path + seg + idx(i), ctx, i);
        }
      };
    }
    return (value, _obj, path, ctx) => {
      if (Array.isArray(value)) {
        report(ctx, 'error', 'structure', path + seg, 'mustNotBeArray', { name });
        return;
      }
      if (value === null) {
        report(ctx, 'error', 'structure', path + seg, 'nullValue');
        return;
      }
      item(value, path + seg, ctx, -1);
    };
  }

  /** `_name`: the id and extensions of a primitive element. */
  /**
   * The id and extensions of a primitive (an Element, named after the primitive type so that
   * extension contexts such as `string` apply); its emptiness is reported by the caller, which
   * knows about the value.
   */
  private primitivePart(code: string): ObjectValidator {
    let v = this.partValidators.get(code);
    if (!v) {
      const sd = this.registry.baseType('Element')!;
      v = this.compileObject(this.tree(sd), sd, code, 'datatype', false);
      this.partValidators.set(code, v);
    }
    return v;
  }

  private primitiveElementHandler(name: string, seg: string, isArray: boolean, code: string, defPath: string): Handler {
    const shared = this.primitivePart(code);
    const element: ObjectValidator = (item, p, ctx) => {
      const saved = ctx.primitivePath;
      ctx.primitivePath = defPath;
      shared(item, p, ctx);
      ctx.primitivePath = saved;
    };
    // The id and extensions of a primitive: exactly an Element (its `extension` children go through validateExtension).
    const part: ItemValidator = (item, p, ctx) => element(item, p, ctx);
    if (isArray) {
      return (value, obj, path, ctx) => {
        const values = obj[name];
        if (!Array.isArray(value)) {
          report(ctx, 'error', 'structure', path + seg, 'mustBeArray', { name: '_' + name, max: '*' });
          return;
        }
        if (Array.isArray(values) && values.length !== value.length) {
          report(ctx, 'error', 'structure', path + seg, 'primitiveArrayLength', { name, a: values.length, b: value.length });
        }
        for (let i = 0; i < value.length; i++) {
          const v = value[i];
          const p = path + seg + idx(i);
          if (v === null) continue;
          part(v, p, ctx, i);
          const hasValue = Array.isArray(values) && values[i] !== null && values[i] !== undefined;
          if (!hasValue && !(isObject(v) && Array.isArray(v.extension) && v.extension.length)) report(ctx, 'error', 'invariant', p, 'primitiveNoValue');
        }
      };
    }
    return (value, obj, path, ctx) => {
      const p = path + seg;
      if (value === null) {
        report(ctx, 'error', 'structure', p, 'nullValue');
        return;
      }
      part(value, p, ctx, -1);
      if (obj[name] === undefined && !(isObject(value) && Array.isArray(value.extension) && value.extension.length)) {
        report(ctx, 'error', 'invariant', p, 'primitiveNoValue');
      }
    };
  }
}

/**
 * The element path (no indexes, no ofType) of the element that holds the extension at `path`,
 * relative to the resource being walked: `Bundle.entry[0].resource.name[1].extension[0]` with
 * the resource at `Bundle.entry[0].resource` gives `Patient.name`.
 */
function elementPathOf(path: string, ctx: Ctx): string {
  const end = Math.max(path.lastIndexOf('.extension['), path.lastIndexOf('.modifierExtension['));
  const within = path.slice(ctx.resourcePath.length, end < 0 ? path.length : end);
  return (ctx.resource.resourceType as string) + within.replace(/\[\d+\]/g, '').replace(/\.ofType\([^)]*\)/g, '');
}

function findNode(root: ElementNode, id: string): ElementNode | undefined {
  if (root.id === id || root.def.path === id) return root;
  for (const c of root.children) {
    const found = findNode(c, id);
    if (found) return found;
  }
  return undefined;
}

function collectRef(value: string, ctx: Ctx): void {
  ctx.scope.refs!.add(value);
  if (value === '#' && ctx.scope.containedIndex >= 0) ctx.scope.refersToContainer!.add(ctx.scope.containedIndex);
}

/** ref-1: a `#id` reference must point to a contained resource of the container. */
function checkContainedReference(ref: Json, path: string, ctx: Ctx): void {
  const value = ref.reference;
  if (typeof value !== 'string') return;
  if (ctx.scope.refs !== undefined) collectRef(value, ctx);
  if (ctx.bundle !== undefined && (value.startsWith('urn:uuid:') || value.startsWith('urn:oid:')) && !ctx.bundle.has(value)) {
    // In a Bundle a urn: reference can only mean one of its entries (a transaction could not be processed otherwise).
    report(ctx, 'warning', 'not-found', path + '.reference', 'unresolvedBundleReference', { ref: value });
  }
  if (value.length > 1 && value.charCodeAt(0) === 35 /* # */ && !ctx.scope.containedTypes.has(value.slice(1))) {
    report(ctx, 'error', 'invariant', path + '.reference', 'containedNotFound', {
      ref: value,
      ids: [...ctx.scope.containedTypes.keys()].join(', ') || '-',
    });
  }
}

/** dom-3: every contained resource is referenced from the container or refers to it. */
function checkContainedReferenced(resource: Json, path: string, ctx: Ctx): void {
  const contained = resource.contained;
  if (!Array.isArray(contained)) return;
  const refs = ctx.scope.refs!;
  for (let i = 0; i < contained.length; i++) {
    const c = contained[i];
    if (!isObject(c) || typeof c.id !== 'string') continue;
    if (refs.has('#' + c.id) || ctx.scope.refersToContainer!.has(i)) continue;
    report(ctx, 'error', 'invariant', path + '.contained' + idx(i), 'containedNotReferenced', { id: c.id });
  }
}

function bundleScope(bundle: Json): Map<string, string> {
  const scope = new Map<string, string>();
  const entries = bundle.entry;
  if (!Array.isArray(entries)) return scope;
  for (const e of entries) {
    if (!isObject(e) || typeof e.fullUrl !== 'string' || !isObject(e.resource)) continue;
    const type = e.resource.resourceType;
    if (typeof type === 'string') scope.set(e.fullUrl, type);
  }
  return scope;
}

/** bdl-7 (fullUrl unique unless versions differ), and fullUrl consistent with the resource id. */
function checkBundleFullUrls(bundle: Json, path: string, ctx: Ctx): void {
  const entries = bundle.entry;
  if (!Array.isArray(entries)) return;
  const seen = new Set<string>();
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (!isObject(e) || typeof e.fullUrl !== 'string') continue;
    const resource = isObject(e.resource) ? e.resource : undefined;
    const version = isObject(resource?.meta) ? (resource!.meta as Json).versionId : undefined;
    const key = e.fullUrl + '|' + (typeof version === 'string' ? version : '');
    if (bundle.type !== 'history') {
      if (seen.has(key)) report(ctx, 'error', 'invariant', `${path}.entry${idx(i)}.fullUrl`, 'bundleFullUrlUnique', { url: e.fullUrl });
      seen.add(key);
    }
    if (resource && typeof resource.id === 'string' && e.fullUrl.charCodeAt(0) !== 117 /* u(rn:) */) {
      const history = e.fullUrl.indexOf('/_history/');
      const noHistory = history < 0 ? e.fullUrl : e.fullUrl.slice(0, history);
      if (!(noHistory.endsWith(resource.id) && noHistory.charCodeAt(noHistory.length - resource.id.length - 1) === 47) /* / */) {
        report(ctx, 'error', 'invariant', `${path}.entry${idx(i)}.fullUrl`, 'fullUrlMismatch', { url: e.fullUrl, id: resource.id });
      }
    }
  }
}
