import type { ElementDefinition, ElementDefinitionType } from 'fhir/r4.js';

/**
 * A StructureDefinition snapshot as a tree: the flat, ordered element list is how FHIR stores it,
 * but every check the compiler emits is about "this element and its children".
 */
export interface ElementNode {
  def: ElementDefinition;
  /** Element id, e.g. `Patient.identifier:ssin.system`. */
  id: string;
  /** Last path segment, e.g. `system` or `value[x]`. */
  name: string;
  /** Ordinary children (of the element, or of this slice). */
  children: ElementNode[];
  /** Slices defined on this element, in order. */
  slices: ElementNode[];
  sliceName?: string;
}

/** Splits an element id into segments, keeping `name:slice` together (slice names never contain dots). */
function idSegments(id: string): string[] {
  return id.split('.');
}

export function buildElementTree(elements: ElementDefinition[]): ElementNode {
  if (!elements.length) throw new Error('empty snapshot');
  const byId = new Map<string, ElementNode>();
  let root: ElementNode | undefined;
  for (const def of elements) {
    const id = def.id ?? def.path;
    const segs = idSegments(id);
    const last = segs[segs.length - 1];
    const colon = last.indexOf(':');
    const name = colon >= 0 ? last.slice(0, colon) : last;
    const node: ElementNode = { def, id, name, children: [], slices: [] };
    byId.set(id, node);
    if (segs.length === 1 && colon < 0) {
      root = node;
      continue;
    }
    const slicedId = [...segs.slice(0, -1), name].join('.');
    const sliced = colon >= 0 ? byId.get(slicedId) : undefined;
    if (sliced) {
      // A slice (or re-slice `a:b/c`): it hangs off the element it slices.
      node.sliceName = def.sliceName ?? last.slice(colon + 1);
      sliced.slices.push(node);
      continue;
    }
    // Some core profiles (familymemberhistory-genetic) name plain elements `a:Name`: an element.
    if (colon >= 0) byId.set(slicedId, node);
    const parentId = segs.slice(0, -1).join('.');
    const parent = byId.get(parentId);
    if (!parent) throw new Error(`element ${id} precedes its parent ${parentId}`);
    parent.children.push(node);
  }
  if (!root) throw new Error('snapshot has no root element');
  return root;
}

export function maxOf(max: string | undefined): number {
  if (max === undefined || max === '*') return Infinity;
  const n = Number(max);
  return Number.isFinite(n) ? n : Infinity;
}

const FHIR_TYPE_EXT = 'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type';

/**
 * The FHIR type code of an element type. R4 writes the types of `id`, `Extension.url` and the
 * primitive `.value` elements as FHIRPath system types with the FHIR type in an extension.
 */
export function typeCodeOf(t: ElementDefinitionType): string {
  if (!t.code.startsWith('http://hl7.org/fhirpath/System.')) return t.code;
  const ext = t.extension?.find((e) => e.url === FHIR_TYPE_EXT);
  return 'System.' + (ext?.valueUrl ?? ext?.valueUri ?? t.code.slice('http://hl7.org/fhirpath/System.'.length).toLowerCase());
}

/** `value[x]` + `Quantity` -> `valueQuantity`. */
export function choiceJsonName(base: string, typeCode: string): string {
  return base + typeCode.charAt(0).toUpperCase() + typeCode.slice(1);
}

/** The JSON value of an element's fixed[x] / pattern[x], if any. */
export function fixedOrPattern(def: ElementDefinition): { kind: 'fixed' | 'pattern'; value: unknown; type: string } | undefined {
  for (const key of Object.keys(def)) {
    if (key.startsWith('fixed') && key.length > 5) return { kind: 'fixed', value: (def as unknown as Record<string, unknown>)[key], type: key.slice(5) };
    if (key.startsWith('pattern') && key.length > 7) return { kind: 'pattern', value: (def as unknown as Record<string, unknown>)[key], type: key.slice(7) };
  }
  return undefined;
}

export function prefixedValue(def: ElementDefinition, prefix: 'minValue' | 'maxValue'): unknown {
  for (const key of Object.keys(def)) if (key.startsWith(prefix) && key.length > prefix.length) return (def as unknown as Record<string, unknown>)[key];
  return undefined;
}
