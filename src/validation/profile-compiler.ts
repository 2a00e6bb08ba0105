import type { ElementDefinition, ElementDefinitionBinding, StructureDefinition } from 'fhir/r4.js';
import { idx, report, sourceSuffix, type Ctx, type Json } from './context.js';
import type { BindingCheck } from './bindings.js';
import { choiceJsonName, fixedOrPattern, maxOf, prefixedValue, typeCodeOf, type ElementNode } from './element-tree.js';
import type { CompiledInvariant } from './invariants.js';
import { describeValue } from './messages.js';
import { canonicalUrl } from './registry.js';
import { compileSliceMatcher, deepEqual, matchesPattern, type DiscriminatorContext, type SliceMatcher } from './slicing.js';
import type { ItemValidator, ObjectValidator, StructureCompiler } from './structure-compiler.js';

/**
 * Profiles (constraining StructureDefinitions: our profiles, HL7 Belgium's, core extensions and
 * core profiles) compiled as deltas over the base. The base validator has already checked the
 * structure, formats, base bindings and base invariants; a profile only adds what its snapshot
 * changes: tighter cardinality, fewer types, fixed/pattern values, bindings, reference targets,
 * type profiles, new invariants and slicing. Elements the profile leaves as in the base compile to
 * nothing, so a profile costs only what it constrains.
 */

/** Checks one occurrence: `value` is the JSON value; for primitives `part` is its `_name` object. */
type ItemCheck = (value: unknown, part: Json | undefined, path: string, ctx: Ctx, typeCode: string) => void;
/** Checks an object (a resource, a complex value, or a primitive's `_name` part). */
type ObjectCheck = (obj: Json, path: string, ctx: Ctx) => void;

const EMPTY: Json = Object.freeze({}) as Json;
const EMPTY_ARRAY: readonly unknown[] = Object.freeze([]);
const ONE: readonly number[] = Object.freeze([0]);
const NONE: readonly number[] = Object.freeze([]);

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function sameBinding(a: ElementDefinitionBinding | undefined, b: ElementDefinitionBinding | undefined): boolean {
  if (!a || !b) return !a && !b;
  return a.strength === b.strength && canonicalUrl(a.valueSet ?? '') === canonicalUrl(b.valueSet ?? '');
}

function constraintKeys(def: ElementDefinition): Set<string> {
  return new Set((def.constraint ?? []).map((c) => c.key + '|' + c.expression));
}

/** FHIRPath system types (R4 writes Extension.url as System.uri in the base, uri in profiles) compare as their FHIR type. */
function normalType(code: string): string {
  return code.startsWith('System.') ? code.slice(7) : code;
}

function typeCodes(def: ElementDefinition): string[] {
  return (def.type ?? []).map((t) => normalType(typeCodeOf(t)));
}

function compareValues(a: unknown, b: unknown): number | undefined {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (isObject(a) && isObject(b) && typeof a.value === 'number' && typeof b.value === 'number') return a.value - b.value;
  return undefined;
}

export class ProfileCompiler {
  private readonly cache = new Map<string, ObjectValidator | null>();

  constructor(private readonly sc: StructureCompiler) {}

  /** The delta validator of a constraining StructureDefinition, or undefined when unknown/not a profile. */
  profileValidator(url: string): ObjectValidator | undefined {
    const key = canonicalUrl(url);
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const sd = this.sc.registry.structure(key);
    if (!sd || sd.derivation !== 'constraint' || !sd.snapshot) {
      this.cache.set(key, null);
      return undefined;
    }
    let compiled: ObjectValidator | undefined;
    // Registered first: profiles may refer to themselves (be-careteam members may be care teams).
    const lazy: ObjectValidator = (value, path, ctx) => (compiled ??= this.compile(sd))(value, path, ctx);
    this.cache.set(key, lazy);
    return lazy;
  }

  /** Compiles now rather than on first use (start-up compiles every profile once). */
  precompile(url: string): void {
    const v = this.profileValidator(url);
    if (!v) throw new Error(`not a profile: ${url}`);
    const sd = this.sc.registry.structure(url)!;
    const compiled = this.compile(sd);
    this.cache.set(canonicalUrl(url), compiled);
  }

  private compile(sd: StructureDefinition): ObjectValidator {
    const base = this.sc.registry.baseType(sd.type);
    if (!base) throw new Error(`${sd.url}: unknown base type ${sd.type}`);
    const profileRoot = this.sc.tree(sd);
    const baseRoot = this.sc.tree(base);
    const source = sd.title ?? sd.name ?? sd.url;
    const check = this.objectDelta(profileRoot, baseRoot, baseRoot.children, source);
    if (!check) return () => {};
    return (value, path, ctx) => {
      if (isObject(value)) check(value, path, ctx);
    };
  }

  /** Deltas of an object-valued element: its new invariants and the deltas of its children. */
  private objectDelta(node: ElementNode, baseNode: ElementNode | undefined, baseChildren: ElementNode[], source: string): ObjectCheck | undefined {
    const baseKeys = baseNode ? constraintKeys(baseNode.def) : new Set<string>();
    const invariants = this.sc.compileInvariants(node.def.constraint, node.def.path, baseKeys, source);
    const props: ObjectCheck[] = [];
    for (const child of node.children) {
      const base = baseChildren.find((b) => b.name === child.name);
      if (!base) continue;
      const check = this.elementDelta(child, base, source);
      if (check) props.push(check);
    }
    if (!props.length && !invariants.length) return undefined;
    return (obj, path, ctx) => {
      for (let i = 0; i < props.length; i++) props[i](obj, path, ctx);
      for (let i = 0; i < invariants.length; i++) invariants[i].check(obj, path, ctx);
    };
  }

  /** The base children against which an element's own (expanded) children are compared. */
  private baseChildrenOf(base: ElementNode, profileTypes: string[]): ElementNode[] {
    if (base.children.length) return base.children;
    const code = profileTypes.length === 1 ? profileTypes[0] : undefined;
    if (!code) return [];
    const sd = this.sc.registry.baseType(code);
    return sd?.snapshot ? this.sc.tree(sd).children : [];
  }

  /** Checks for one occurrence of an element (or a slice) compared with its base element. */
  private itemDelta(node: ElementNode, base: ElementNode, source: string): ItemCheck | undefined {
    const def = node.def;
    const checks: ItemCheck[] = [];
    const profileTypes = typeCodes(def);
    const baseTypes = typeCodes(base.def);

    const fp = fixedOrPattern(def);
    const baseFp = fixedOrPattern(base.def);
    if (fp && !(baseFp && baseFp.kind === fp.kind && deepEqual(baseFp.value, fp.value))) {
      const expected = describeValue(fp.value);
      if (fp.kind === 'fixed') {
        checks.push((value, _part, path, ctx) => {
          if (value !== undefined && !deepEqual(value, fp.value)) {
            report(ctx, 'error', 'value', path, 'fixedValue', { found: describeValue(value), expected, source: sourceSuffix(ctx, source) });
          }
        });
      } else {
        checks.push((value, _part, path, ctx) => {
          if (value !== undefined && !matchesPattern(value, fp.value)) {
            report(ctx, 'error', 'value', path, 'patternValue', { found: describeValue(value), expected, source: sourceSuffix(ctx, source) });
          }
        });
      }
    }

    if (def.binding && !sameBinding(def.binding, base.def.binding)) {
      const byType = new Map<string, BindingCheck>();
      for (const code of profileTypes) {
        const b = this.sc.bindingFor(def, code, source);
        if (b) byType.set(code, b);
      }
      if (byType.size) {
        checks.push((value, _part, path, ctx, typeCode) => {
          if (value !== undefined) byType.get(typeCode)?.(value, path, ctx);
        });
      }
    }

    if (profileTypes.includes('Reference')) {
      const profileTargets = def.type?.find((t) => t.code === 'Reference')?.targetProfile;
      const baseTargets = base.def.type?.find((t) => t.code === 'Reference')?.targetProfile;
      const allowed = this.sc.targetTypes(profileTargets);
      const baseAllowed = this.sc.targetTypes(baseTargets);
      if (allowed && (!baseAllowed || [...baseAllowed].some((t) => !allowed.has(t)))) {
        const check = this.sc.referenceCheck(allowed, source);
        checks.push((value, _part, path, ctx) => check(value, path, ctx, -1));
      }
    }

    for (const t of def.type ?? []) {
      const profiles = t.profile ?? [];
      const baseProfiles = base.def.type?.find((bt) => bt.code === t.code)?.profile ?? [];
      if (profiles.length !== 1 || baseProfiles.includes(profiles[0])) continue;
      const url = profiles[0];
      const code = typeCodeOf(t);
      const isExtension = code === 'Extension';
      checks.push((value, _part, path, ctx, typeCode) => {
        if (typeCode !== code || !isObject(value)) return;
        // Known extensions are already checked against their definition wherever they occur.
        if (isExtension && value.url === url) return;
        this.profileValidator(url)?.(value, path, ctx);
      });
    }

    const invariants: CompiledInvariant[] = this.sc.compileInvariants(def.constraint, def.path, constraintKeys(base.def), source);
    if (invariants.length) {
      checks.push((value, part, path, ctx) => {
        const node = isObject(value) ? value : part ?? value;
        for (let i = 0; i < invariants.length; i++) invariants[i].check(node, path, ctx);
      });
    }

    if (def.maxLength !== undefined && def.maxLength !== base.def.maxLength) {
      const max = def.maxLength;
      checks.push((value, _part, path, ctx) => {
        if (typeof value === 'string' && value.length > max) report(ctx, 'error', 'value', path, 'tooLong', { length: value.length, max });
      });
    }
    for (const which of ['minValue', 'maxValue'] as const) {
      const limit = prefixedValue(def, which);
      if (limit === undefined || deepEqual(limit, prefixedValue(base.def, which))) continue;
      checks.push((value, _part, path, ctx) => {
        const c = compareValues(value, limit);
        if (c !== undefined && (which === 'minValue' ? c < 0 : c > 0)) {
          report(ctx, 'error', 'value', path, which, { found: describeValue(value), expected: describeValue(limit), source: sourceSuffix(ctx, source) });
        }
      });
    }

    if (node.children.length) {
      const children = this.objectDelta(node, undefined, this.baseChildrenOf(base, profileTypes.length ? profileTypes : baseTypes), source);
      if (children) {
        checks.push((value, part, path, ctx) => {
          if (isObject(value)) children(value, path, ctx);
          else children(part ?? EMPTY, path, ctx);
        });
      }
    }

    if (!checks.length) return undefined;
    if (checks.length === 1) return checks[0];
    return (value, part, path, ctx, typeCode) => {
      for (let i = 0; i < checks.length; i++) checks[i](value, part, path, ctx, typeCode);
    };
  }

  /** Everything a profile says about one element: cardinality, types, per-item deltas, slicing. */
  private elementDelta(node: ElementNode, base: ElementNode, source: string): ObjectCheck | undefined {
    const def = node.def;
    const baseDef = base.def;
    const isChoice = base.name.endsWith('[x]');
    const name = isChoice ? base.name.slice(0, -3) : base.name;
    const isArray = maxOf(baseDef.base?.max ?? baseDef.max) > 1;
    const baseTypes = (baseDef.type ?? []).map(typeCodeOf);
    const profileTypes = new Set(typeCodes(def));
    const occurrences: Array<{ key: string; type: string; seg: string; primitive: boolean }> = [];
    if (baseDef.contentReference) occurrences.push({ key: name, type: 'BackboneElement', seg: '.' + name, primitive: false });
    for (const type of baseTypes) {
      const key = isChoice ? choiceJsonName(name, type) : name;
      occurrences.push({ key, type: normalType(type), seg: isChoice ? `.${name}.ofType(${type})` : '.' + name, primitive: this.sc.primitives.has(type) });
    }

    const min = def.min ?? 0;
    const max = maxOf(def.max);
    const checkMin = min > (baseDef.min ?? 0);
    const checkMax = max < maxOf(baseDef.max);
    // FHIRPath system types (Resource.id is System.String in R4, `id` in newer snapshots) are not narrowed by profiles.
    const systemTyped = baseTypes.some((t) => t.startsWith('System.'));
    const disallowed = profileTypes.size && !systemTyped ? occurrences.filter((o) => !profileTypes.has(normalType(o.type)) && !baseDef.contentReference) : [];
    const allowedText = [...profileTypes].join(', ');
    const item = this.itemDelta(node, base, source);
    const slicing = def.slicing && node.slices.length ? this.slicingCheck(node, base, source) : undefined;
    if (!checkMin && !checkMax && !disallowed.length && !item && !slicing) return undefined;
    const disallowedKeys = new Set(disallowed.map((o) => o.key));

    // A choice element has one occurrence per type (value[x]: 50); look up the object's few keys instead.
    const byKey = new Map<string, number>();
    occurrences.forEach((o, i) => {
      byKey.set(o.key, i);
      if (o.primitive) byKey.set('_' + o.key, i);
    });
    const present = (obj: Json): readonly number[] => {
      if (occurrences.length <= 2) {
        const found: number[] = [];
        for (let o = 0; o < occurrences.length; o++) {
          const k = occurrences[o].key;
          if (obj[k] !== undefined || (occurrences[o].primitive && obj['_' + k] !== undefined)) found.push(o);
        }
        return found;
      }
      const found: number[] = [];
      for (const k in obj) {
        const o = byKey.get(k);
        if (o !== undefined && !found.includes(o)) found.push(o);
      }
      return found;
    };

    return (obj, path, ctx) => {
      let n = 0;
      // Items are collected only for slicing; plain per-item checks run as the items are found.
      const items: Array<{ value: unknown; part: Json | undefined; path: string; type: string }> | undefined = slicing ? [] : undefined;
      const found = occurrences.length === 1 ? (obj[occurrences[0].key] !== undefined || (occurrences[0].primitive && obj['_' + occurrences[0].key] !== undefined) ? ONE : NONE) : present(obj);
      for (let f = 0; f < found.length; f++) {
        const occ = occurrences[found[f]];
        const value = obj[occ.key];
        const part = occ.primitive ? obj['_' + occ.key] : undefined;
        if (disallowedKeys.has(occ.key)) {
          // Present, so it counts for cardinality, but the type's own checks do not apply.
          report(ctx, 'error', 'structure', path + occ.seg, 'typeNotAllowed', { found: occ.type, allowed: allowedText, source: sourceSuffix(ctx, source) });
          n += Array.isArray(value) ? value.length : 1;
          continue;
        }
        if (isArray) {
          const values = Array.isArray(value) ? value : EMPTY_ARRAY;
          const parts = Array.isArray(part) ? part : EMPTY_ARRAY;
          const len = values.length > parts.length ? values.length : parts.length;
          n += len;
          if (item || items) {
            for (let i = 0; i < len; i++) {
              const v = values[i];
              const p = parts[i];
              const itemValue = v === null ? undefined : v;
              const itemPart = isObject(p) ? p : undefined;
              const itemPath = path + occ.seg + idx(i);
              if (item) item(itemValue, itemPart, itemPath, ctx, occ.type);
              items?.push({ value: itemValue, part: itemPart, path: itemPath, type: occ.type });
            }
          }
        } else {
          n += 1;
          const itemPart = isObject(part) ? part : undefined;
          if (item) item(value, itemPart, path + occ.seg, ctx, occ.type);
          items?.push({ value, part: itemPart, path: path + occ.seg, type: occ.type });
        }
      }
      if (checkMin && n < min) {
        report(ctx, 'error', 'required', path + '.' + name, 'minCardinality', { name, min, count: n, source: sourceSuffix(ctx, source) });
      }
      if (checkMax && n > max) {
        if (max === 0) report(ctx, 'error', 'structure', path + '.' + name, 'prohibited', { name, source: sourceSuffix(ctx, source) });
        else report(ctx, 'error', 'structure', path + '.' + name, 'maxCardinality', { name, max, count: n, source: sourceSuffix(ctx, source) });
      }
      if (items) slicing!(items, path + '.' + name, ctx);
    };
  }

  private discriminatorContext(): DiscriminatorContext {
    return {
      valueSet: (url) => this.sc.terminology.valueSet(url),
      conformsTo: (value, url, ctx) => {
        const v = this.profileValidator(url);
        if (!v) return false;
        const probe: Ctx = { ...ctx, issues: [] };
        v(value, '', probe);
        return !probe.issues.some((i) => i.severity === 'error' || i.severity === 'fatal');
      },
    };
  }

  private slicingCheck(
    node: ElementNode,
    base: ElementNode,
    source: string,
  ): ((items: Array<{ value: unknown; part: Json | undefined; path: string; type: string }>, path: string, ctx: Ctx) => void) | undefined {
    const slicing = node.def.slicing!;
    const discriminators = slicing.discriminator ?? [];
    const dc = this.discriminatorContext();
    const name = node.name.endsWith('[x]') ? node.name.slice(0, -3) : node.name;
    const slices: Array<{ name: string; min: number; max: number; matcher: SliceMatcher | undefined; check: ItemCheck | undefined; description: string }> = [];
    for (const s of node.slices) {
      const matcher = discriminators.length ? compileSliceMatcher(s, discriminators, dc) : undefined;
      slices.push({
        name: s.sliceName ?? '?',
        min: s.def.min ?? 0,
        max: maxOf(s.def.max),
        matcher,
        check: this.itemDelta(s, base, source),
        description: describeSlice(s, discriminators.map((d) => d.path)),
      });
    }
    const closed = slicing.rules === 'closed';
    const openAtEnd = slicing.rules === 'openAtEnd';
    const ordered = slicing.ordered === true;
    const sliceNames = slices.map((s) => s.name).join(', ');
    return (items, path, ctx) => {
      const counts = new Array<number>(slices.length).fill(0);
      let lastSlice = -1;
      let sawUnmatched = false;
      for (const it of items) {
        let matched = -1;
        for (let s = 0; s < slices.length; s++) {
          const m = slices[s].matcher;
          if (m && it.value !== undefined && m(it.value, it.type, ctx)) {
            matched = s;
            break;
          }
        }
        if (matched < 0) {
          sawUnmatched = true;
          if (closed) report(ctx, 'error', 'structure', it.path, 'closedSlicing', { slices: sliceNames, source: sourceSuffix(ctx, source) });
          continue;
        }
        if (openAtEnd && sawUnmatched) report(ctx, 'error', 'structure', it.path, 'closedSlicing', { slices: sliceNames, source: sourceSuffix(ctx, source) });
        if (ordered && matched < lastSlice) report(ctx, 'error', 'structure', it.path, 'sliceOrder', { slice: slices[matched].name, source: sourceSuffix(ctx, source) });
        lastSlice = Math.max(lastSlice, matched);
        counts[matched]++;
        slices[matched].check?.(it.value, it.part, it.path, ctx, it.type);
      }
      for (let s = 0; s < slices.length; s++) {
        const sl = slices[s];
        if (counts[s] < sl.min) {
          report(ctx, 'error', 'required', path, 'sliceMin', { name, min: sl.min, slice: sl.name, description: sl.description, count: counts[s], source: sourceSuffix(ctx, source) });
        } else if (counts[s] > sl.max) {
          report(ctx, 'error', 'structure', path, 'sliceMax', { name, max: sl.max, slice: sl.name, description: sl.description, count: counts[s], source: sourceSuffix(ctx, source) });
        }
      }
    };
  }
}

/** "system = https://..." for messages: what an item needs to belong to the slice. */
function describeSlice(slice: ElementNode, paths: string[]): string {
  const parts: string[] = [];
  for (const p of paths) {
    let node: ElementNode | undefined = slice;
    for (const seg of p === '$this' ? [] : p.split('.')) node = node?.children.find((c) => c.name === seg);
    const fp = node ? fixedOrPattern(node.def) : undefined;
    if (fp) parts.push(`${p} = ${describeValue(fp.value)}`);
    else if (node?.def.binding?.valueSet) parts.push(`${p} in ${node.def.binding.valueSet}`);
    else if (p === 'url' && slice.def.type?.[0]?.profile?.[0]) parts.push(`url = ${slice.def.type[0].profile[0]}`);
    else if (node?.def.type?.length) parts.push(`${p}: ${node.def.type.map(typeCodeOf).join('|')}`);
  }
  return parts.join(', ') || slice.sliceName || '';
}

export type { ItemValidator };
