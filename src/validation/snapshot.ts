import type { ElementDefinition, StructureDefinition } from 'fhir/r4.js';
import { typeCodeOf } from './element-tree.js';
import { canonicalUrl } from './registry.js';

/**
 * Snapshot generation for constraining profiles: the base's snapshot with the differential merged
 * in. It covers what FHIR profiles commonly do (and everything ours do): constrain existing
 * elements, add slices (cloned from the sliced element), and constrain children of complex types
 * that the base snapshot does not expand (expanded from the type's own definition, or for a slice
 * from the sliced element's children). The output is what FHIR tools such as HAPI expect to find.
 */

type Resolve = (url: string) => StructureDefinition | undefined;

const FIXED_OR_PATTERN = /^(fixed|pattern)[A-Z]/;

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** Parent id: drop the last segment (the slice name goes with its segment). */
function parentId(id: string): string {
  return id.slice(0, id.lastIndexOf('.'));
}

function lastSegment(id: string): string {
  return id.slice(id.lastIndexOf('.') + 1);
}

/** The path of an id: ids carry slice names (`a.b:s.c`), paths do not (`a.b.c`). */
function pathOf(id: string): string {
  return id
    .split('.')
    .map((s) => (s.includes(':') ? s.slice(0, s.indexOf(':')) : s))
    .join('.');
}

function isDescendantOrSelf(id: string, of: string): boolean {
  return id === of || id.startsWith(of + '.') || id.startsWith(of + ':');
}

function merge(target: ElementDefinition, diff: ElementDefinition): void {
  const t = target as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(diff)) {
    if (key === 'id' || key === 'path') continue;
    if (key === 'constraint') {
      const existing = new Set((target.constraint ?? []).map((c) => c.key));
      target.constraint = [...(target.constraint ?? []), ...clone(diff.constraint ?? []).filter((c) => !existing.has(c.key))];
      continue;
    }
    if (key === 'condition') {
      target.condition = [...new Set([...(target.condition ?? []), ...(diff.condition ?? [])])];
      continue;
    }
    if (FIXED_OR_PATTERN.test(key)) {
      for (const k of Object.keys(t)) if (FIXED_OR_PATTERN.test(k)) delete t[k];
    }
    t[key] = clone(value);
  }
}

export function generateSnapshot(profile: StructureDefinition, resolve: Resolve): ElementDefinition[] {
  if (!profile.baseDefinition) throw new Error(`${profile.url}: no baseDefinition`);
  const base = resolve(profile.baseDefinition);
  if (!base?.snapshot) throw new Error(`${profile.url}: base ${profile.baseDefinition} not found or without snapshot`);
  const elements: ElementDefinition[] = clone(base.snapshot.element).map((e) => {
    e.id ??= e.path;
    return e;
  });
  const indexOf = (id: string) => elements.findIndex((e) => e.id === id);

  /** Index just past an element and everything under it (children, slices and their children). */
  const endOf = (id: string): number => {
    let i = indexOf(id) + 1;
    while (i < elements.length && isDescendantOrSelf(elements[i].id!, id)) i++;
    return i;
  };

  /** Makes the children of `id` explicit, so that a differential can constrain them. */
  const expandChildren = (id: string): void => {
    const parentIndex = indexOf(id);
    const parent = elements[parentIndex];
    if (elements.some((e) => parentId(e.id!) === id)) return;
    let children: ElementDefinition[] = [];
    const colon = lastSegment(id).indexOf(':');
    if (colon >= 0) {
      // A slice: its children are those of the element it slices.
      const sliced = parentId(id) ? `${parentId(id)}.${lastSegment(id).slice(0, colon)}` : lastSegment(id).slice(0, colon);
      const slicedIndex = indexOf(sliced);
      const end = slicedIndex >= 0 ? endOf(sliced) : slicedIndex;
      for (let i = slicedIndex + 1; i < end; i++) {
        const e = elements[i];
        const rest = e.id!.slice(sliced.length);
        if (!rest.startsWith('.')) continue; // other slices of the same element
        if (rest.split('.').some((s) => s.includes(':'))) continue; // slices of the children stay with the sliced element
        const c = clone(e);
        c.id = id + rest;
        children.push(c);
      }
    }
    if (!children.length) {
      const types = parent.type ?? [];
      const code = types.length === 1 ? typeCodeOf(types[0]) : undefined;
      const typeSd = code ? resolve(`http://hl7.org/fhir/StructureDefinition/${code}`) : undefined;
      if (!typeSd?.snapshot) throw new Error(`${profile.url}: cannot expand ${id} (type ${code ?? '?'})`);
      children = clone(typeSd.snapshot.element.slice(1)).map((e) => {
        const rest = (e.id ?? e.path).slice(typeSd.type.length);
        e.id = id + rest;
        e.path = parent.path + e.path.slice(typeSd.type.length);
        return e;
      });
    }
    for (const c of children) c.path = pathOf(c.id!);
    elements.splice(parentIndex + 1, 0, ...children);
  };

  const ensure = (id: string): number => {
    let i = indexOf(id);
    if (i >= 0) return i;
    const seg = lastSegment(id);
    const colon = seg.indexOf(':');
    const pid = parentId(id);
    if (colon >= 0) {
      const slicedId = (pid ? pid + '.' : '') + seg.slice(0, colon);
      const slicedIndex = ensure(slicedId);
      const sliced = elements[slicedIndex];
      const slice = clone(sliced);
      delete slice.slicing;
      slice.id = id;
      slice.sliceName = seg.slice(colon + 1);
      slice.min = 0;
      const at = endOf(slicedId);
      elements.splice(at, 0, slice);
      return at;
    }
    if (!pid) throw new Error(`${profile.url}: unknown root ${id}`);
    ensure(pid);
    expandChildren(pid);
    i = indexOf(id);
    if (i < 0) throw new Error(`${profile.url}: no element ${id} in ${profile.type}`);
    return i;
  };

  for (const d of profile.differential?.element ?? []) {
    const id = d.id ?? d.path;
    const i = ensure(id);
    merge(elements[i], d);
  }
  return elements;
}

/** Generates missing snapshots of the given profiles, resolving bases among them first. */
export function completeSnapshots(profiles: StructureDefinition[], resolve: Resolve): void {
  const pending = new Map(profiles.filter((p) => !p.snapshot && p.derivation === 'constraint').map((p) => [p.url, p]));
  const visit = (p: StructureDefinition, stack: Set<string>) => {
    if (p.snapshot) return;
    if (stack.has(p.url)) throw new Error(`profile cycle at ${p.url}`);
    stack.add(p.url);
    const baseUrl = canonicalUrl(p.baseDefinition ?? '');
    const base = pending.get(baseUrl);
    if (base) visit(base, stack);
    p.snapshot = { element: generateSnapshot(p, resolve) };
  };
  for (const p of pending.values()) visit(p, new Set());
}
