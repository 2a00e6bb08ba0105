import type { ElementDefinitionSlicingDiscriminator } from 'fhir/r4.js';
import type { Ctx, Json } from './context.js';
import { fixedOrPattern, typeCodeOf, type ElementNode } from './element-tree.js';
import { inValueSet, type ValueSetIndex } from './terminology.js';

/**
 * Slice matching. A discriminator names a path inside each item; the slice definition fixes what
 * is at that path (fixed/pattern value, a required binding, a type, presence). Matching is
 * compiled per slice into one predicate over the JSON item.
 */

export type SliceMatcher = (item: unknown, itemType: string | undefined, ctx: Ctx) => boolean;

/** fixed[x]: exact equality (objects with the same properties, arrays element by element). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ka = Object.keys(a as Json);
  const kb = Object.keys(b as Json);
  return ka.length === kb.length && ka.every((k) => deepEqual((a as Json)[k], (b as Json)[k]));
}

/**
 * pattern[x]: the item has at least what the pattern has. Every property of a pattern object must
 * match, and every element of a pattern array must match some element of the item's array.
 */
export function matchesPattern(value: unknown, pattern: unknown): boolean {
  if (pattern === value) return true;
  if (typeof pattern !== 'object' || pattern === null) return false;
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(pattern)) {
    const items = Array.isArray(value) ? value : [value];
    return pattern.every((p) => items.some((v) => matchesPattern(v, p)));
  }
  if (Array.isArray(value)) return false;
  for (const k of Object.keys(pattern as Json)) {
    if (!matchesPattern((value as Json)[k], (pattern as Json)[k])) return false;
  }
  return true;
}

/** Values at a dotted path in an item, flattening arrays (FHIRPath navigation). */
export function valuesAt(item: unknown, segments: string[]): unknown[] {
  let current: unknown[] = [item];
  for (const seg of segments) {
    const next: unknown[] = [];
    for (const c of current) {
      if (c === null || typeof c !== 'object' || Array.isArray(c)) continue;
      const v = (c as Json)[seg];
      if (v === undefined || v === null) continue;
      if (Array.isArray(v)) {
        for (const x of v) if (x !== null && x !== undefined) next.push(x);
      } else next.push(v);
    }
    current = next;
  }
  return current;
}

function childByName(node: ElementNode, name: string): ElementNode | undefined {
  return node.children.find((c) => c.name === name || (c.name.endsWith('[x]') && name.startsWith(c.name.slice(0, -3))));
}

export interface DiscriminatorContext {
  /** Value set lookup for value discriminators that rely on a required binding. */
  valueSet(url: string): ValueSetIndex | undefined;
  /** Conformance test for profile discriminators. */
  conformsTo(value: unknown, profileUrl: string, ctx: Ctx): boolean;
}

/**
 * Compiles the predicate "item belongs to this slice". Returns undefined when a discriminator
 * cannot be evaluated here (e.g. resolve() needs the referenced resource): such slices never
 * match, which the caller reports through the slice's minimum cardinality if it matters.
 */
export function compileSliceMatcher(
  slice: ElementNode,
  discriminators: ElementDefinitionSlicingDiscriminator[],
  dc: DiscriminatorContext,
): SliceMatcher | undefined {
  const tests: SliceMatcher[] = [];
  for (const d of discriminators) {
    const test = compileDiscriminator(slice, d, dc);
    if (!test) return undefined;
    tests.push(test);
  }
  if (tests.length === 1) return tests[0];
  return (item, type, ctx) => tests.every((t) => t(item, type, ctx));
}

function compileDiscriminator(slice: ElementNode, d: ElementDefinitionSlicingDiscriminator, dc: DiscriminatorContext): SliceMatcher | undefined {
  const path = d.path.trim();
  if (path.includes('resolve()') || path.includes('(')) {
    // extension('url') and ofType() are the only function forms we could support; none of our profiles use them.
    return undefined;
  }
  const segments = path === '$this' ? [] : path.replace(/^\$this\./, '').split('.');
  let criteria: ElementNode | undefined = slice;
  for (const seg of segments) {
    criteria = criteria ? childByName(criteria, seg) : undefined;
  }

  switch (d.type) {
    case 'value':
    case 'pattern': {
      let expected = criteria ? fixedOrPattern(criteria.def) : undefined;
      if (!expected && segments.length === 1 && segments[0] === 'url') {
        // Extension slices: the url is the extension definition's, named in the slice's type profile.
        const profile = slice.def.type?.[0]?.profile?.[0];
        if (profile) expected = { kind: 'fixed', value: profile, type: 'Uri' };
      }
      if (expected) {
        const { kind, value } = expected;
        return (item) => valuesAt(item, segments).some((v) => (kind === 'fixed' ? deepEqual(v, value) : matchesPattern(v, value)));
      }
      const binding = criteria?.def.binding;
      if (binding?.strength === 'required' && binding.valueSet) {
        const vs = dc.valueSet(binding.valueSet);
        if (!vs) return undefined;
        return (item) =>
          valuesAt(item, segments).some((v) => {
            if (typeof v === 'string') return vs.codes.has(v);
            const c = v as Json;
            if (typeof c.code === 'string') return inValueSet(vs, c.system, c.code);
            return Array.isArray(c.coding) && (c.coding as Json[]).some((x) => typeof x?.code === 'string' && inValueSet(vs, x.system, x.code));
          });
      }
      return undefined;
    }
    case 'exists': {
      if (!criteria) return undefined;
      const mustExist = (criteria.def.min ?? 0) > 0;
      const mustNot = criteria.def.max === '0';
      if (!mustExist && !mustNot) return undefined;
      return (item) => valuesAt(item, segments).length > 0 === mustExist;
    }
    case 'type': {
      const types = new Set((criteria?.def.type ?? []).map(typeCodeOf));
      if (!types.size) return undefined;
      if (segments.length === 0) return (item, itemType) => (itemType ?? resourceTypeOf(item)) !== undefined && types.has((itemType ?? resourceTypeOf(item))!);
      return (item) => valuesAt(item, segments).some((v) => typeof resourceTypeOf(v) === 'string' && types.has(resourceTypeOf(v)!));
    }
    case 'profile': {
      const profiles = (criteria?.def.type ?? []).flatMap((t) => t.profile ?? []);
      if (!profiles.length) return undefined;
      return (item, _type, ctx) => valuesAt(item, segments).some((v) => profiles.some((p) => dc.conformsTo(v, p, ctx)));
    }
    default:
      return undefined;
  }
}

function resourceTypeOf(v: unknown): string | undefined {
  return v !== null && typeof v === 'object' && typeof (v as Json).resourceType === 'string' ? ((v as Json).resourceType as string) : undefined;
}
