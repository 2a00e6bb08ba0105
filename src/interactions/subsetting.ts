import { baseResourceDefinitions } from '../fhir/definitions.js';
import type { Summary } from '../search/search-request.js';

type Obj = Record<string, unknown>;

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED', display: 'Resource encoded in summary mode' };

interface TypeElements {
  summary: Set<string>;
  mandatory: Set<string>;
}

let elementsByType: Map<string, TypeElements> | undefined;

/** Top-level summary and mandatory elements per type, from the R4 StructureDefinitions. */
function typeElements(type: string): TypeElements {
  if (!elementsByType) {
    elementsByType = new Map();
    for (const sd of baseResourceDefinitions()) {
      if (sd.kind !== 'resource' || sd.derivation === 'constraint') continue;
      const summary = new Set<string>();
      const mandatory = new Set<string>();
      for (const el of sd.snapshot?.element ?? []) {
        const parts = el.path.split('.');
        if (parts.length !== 2) continue;
        const name = parts[1].replace('[x]', '');
        if (el.isSummary) summary.add(name);
        if ((el.min ?? 0) > 0) mandatory.add(name);
      }
      elementsByType.set(sd.type, { summary, mandatory });
    }
  }
  return elementsByType.get(type) ?? { summary: new Set(), mandatory: new Set() };
}

/** The element name of a JSON key (`valueQuantity` is `value`, `_birthDate` is `birthDate`). */
function matches(key: string, names: Set<string>): boolean {
  const k = key.startsWith('_') ? key.slice(1) : key;
  if (names.has(k)) return true;
  for (const n of names) if (k.startsWith(n) && /^[A-Z]/.test(k.slice(n.length))) return true;
  return false;
}

function tagged(resource: Obj): Obj {
  const meta = { ...((resource.meta as Obj) ?? {}) };
  const tags = Array.isArray(meta.tag) ? [...(meta.tag as Obj[])] : [];
  if (!tags.some((t) => t.code === 'SUBSETTED')) tags.push(SUBSETTED);
  return { ...resource, meta: { ...meta, tag: tags } };
}

/** _summary and _elements (R4 3.1.1.5.7 and .9): a subset of the resource, marked SUBSETTED. */
export function subset(resource: Obj, summary: Summary | undefined, elements: string[] | undefined): Obj {
  const type = String(resource.resourceType);
  const always = new Set(['resourceType', 'id', 'meta']);
  if (elements?.length) {
    const names = new Set(elements.map((e) => e.split('.')[0]));
    const { mandatory } = typeElements(type);
    return tagged(Object.fromEntries(Object.entries(resource).filter(([k]) => always.has(k) || matches(k, names) || matches(k, mandatory))));
  }
  switch (summary) {
    case 'true': {
      const { summary: names } = typeElements(type);
      return tagged(Object.fromEntries(Object.entries(resource).filter(([k]) => always.has(k) || matches(k, names))));
    }
    case 'text': {
      const { mandatory } = typeElements(type);
      return tagged(Object.fromEntries(Object.entries(resource).filter(([k]) => always.has(k) || k === 'text' || matches(k, mandatory))));
    }
    case 'data': {
      const { text: _text, ...rest } = resource;
      return tagged(rest);
    }
    default:
      return resource;
  }
}

export function isSubsetting(summary: Summary | undefined, elements: string[] | undefined): boolean {
  return Boolean(elements?.length) || summary === 'true' || summary === 'text' || summary === 'data';
}
