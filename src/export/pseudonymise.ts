import { createHmac } from 'node:crypto';
import type { ElementDefinition, StructureDefinition } from 'fhir/r4.js';
import { baseResourceDefinitions, baseTypeDefinitions } from '../fhir/definitions.js';
import { isValidSsin } from '../validation/ssin.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Types whose ids and identifiers are kept: organisations and guidelines are not data subjects,
 * and evaluators need to see which consortium and guideline a plan belongs to.
 */
export const KEPT_TYPES = new Set(['Organization', 'OrganizationAffiliation', 'PlanDefinition']);

/** Data types removed wherever they occur: they carry names, contact details, free text or files. */
const DROPPED_TYPES = new Set(['HumanName', 'ContactPoint', 'Attachment', 'Annotation', 'Narrative', 'Signature', 'xhtml', 'base64Binary']);

/** Primitive types that hold codes, numbers, dates and URLs, not free text: kept. */
const KEPT_PRIMITIVES = new Set(['boolean', 'integer', 'decimal', 'positiveInt', 'unsignedInt', 'code', 'id', 'uri', 'url', 'canonical', 'oid', 'uuid', 'date', 'dateTime', 'instant', 'time']);

/** Free-text elements (string, markdown) kept in every resource: code displays, units, postal codes. */
const KEPT_STRINGS = new Set(['Coding.display', 'Quantity.unit', 'Age.unit', 'Duration.unit', 'Distance.unit', 'Count.unit', 'Address.postalCode', 'Address.country']);

/** Dates reduced to the year: the birth (and death) dates of people. */
const YEAR_ONLY = new Set(['Patient.birthDate', 'Patient.deceasedDateTime', 'RelatedPerson.birthDate', 'Practitioner.birthDate']);

const DAR = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason';
const masked = () => ({ extension: [{ url: DAR, valueCode: 'masked' }] });

const OLD_NAMING = 'https://www.ehealth.fgov.be/standards/fhir/NamingSystem/';
const NAMING = 'https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/';

/** An SSIN (or BIS number) written anywhere in a text, with or without separators. */
const SSIN_LIKE = /(?<!\d)(\d{2})[.\- /]?(\d{2})[.\- /]?(\d{2})[.\- /]?(\d{3})[.\- /]?(\d{2})(?!\d)/g;

export function containsSsin(text: string): boolean {
  for (const m of text.matchAll(SSIN_LIKE)) if (isValidSsin(m.slice(1).join(''))) return true;
  return false;
}

interface ElementType {
  types: string[];
  /** An element defined elsewhere in its resource (contentReference), e.g. Questionnaire.item.item. */
  ref?: string;
}

let elementTypes: Map<string, ElementType> | undefined;

/** Every element path of the R4 resources and data types with its types (choice elements under their [x] path). */
function typesOf(): Map<string, ElementType> {
  if (elementTypes) return elementTypes;
  const map = new Map<string, ElementType>();
  const add = (sd: StructureDefinition) => {
    for (const e of sd.snapshot?.element ?? ([] as ElementDefinition[])) {
      if (!e.path.includes('.')) continue;
      const types = (e.type ?? []).map((t) => (t.code.startsWith('http://hl7.org/fhirpath/') ? 'string' : t.code));
      map.set(e.path, { types, ref: e.contentReference?.replace(/^#/, '') });
    }
  };
  for (const sd of baseTypeDefinitions()) if (sd.kind !== 'logical') add(sd);
  for (const sd of baseResourceDefinitions()) add(sd);
  elementTypes = map;
  return map;
}

/** The type of a JSON property of the element at `path`: `birthDate` -> date, `valueQuantity` -> Quantity. */
function elementOf(path: string, key: string): { path: string; type: string; ref?: string } | undefined {
  const map = typesOf();
  const direct = map.get(`${path}.${key}`);
  if (direct) {
    if (direct.ref) return { path: direct.ref, type: 'BackboneElement', ref: direct.ref };
    return { path: `${path}.${key}`, type: direct.types[0] ?? 'BackboneElement' };
  }
  // A choice element: value[x] written as valueQuantity, valueString...
  for (let i = 1; i < key.length; i++) {
    if (key[i] < 'A' || key[i] > 'Z') continue;
    const choice = map.get(`${path}.${key.slice(0, i)}[x]`);
    if (!choice) continue;
    const suffix = key.slice(i);
    const type = choice.types.find((t) => t.toLowerCase() === suffix.toLowerCase());
    if (type) return { path: `${path}.${key}`, type };
  }
  return undefined;
}

export interface PseudonymiserOptions {
  /** The export key (HMAC-SHA256). */
  key: Buffer;
  /** This server's base URL: absolute references to it are local ones. */
  baseUrl?: string;
}

/**
 * Pseudonymises resources for evaluation exports (docs/evaluation.md): ids and identifier values
 * become keyed hashes (HMAC-SHA256 with the export key: the same patient gets the same pseudonym
 * in every export with that key, and references stay consistent), names, telecom, photos, notes,
 * narrative and every free-text string are removed, birth dates become years, addresses keep only
 * their postal code and country. The walk follows the R4 definitions, so that what is kept is
 * decided by element type, not by a list of names that a new element could slip past.
 */
export class Pseudonymiser {
  constructor(private readonly options: PseudonymiserOptions) {}

  private hash(text: string): string {
    return createHmac('sha256', this.options.key).update(text).digest('hex').slice(0, 40);
  }

  /** The pseudonymous id of a resource (organisations and guidelines keep theirs). */
  id(type: string, id: string): string {
    return KEPT_TYPES.has(type) ? id : this.hash(`id|${type}/${id}`);
  }

  /** The keyed hash of an identifier value (the old eHealth NamingSystem URLs count as the new ones). */
  identifierValue(system: string | undefined, value: string): string {
    const s = system?.startsWith(OLD_NAMING) ? NAMING + system.slice(OLD_NAMING.length) : (system ?? '');
    return this.hash(`identifier|${s}|${value}`);
  }

  resource(resource: Obj): Obj {
    const type = String(resource.resourceType);
    const lenient = KEPT_TYPES.has(type);
    const out: Obj = { resourceType: type };
    if (typeof resource.id === 'string') out.id = this.id(type, resource.id);
    Object.assign(out, this.object(resource, type, lenient, new Set(['resourceType', 'id'])));
    return out;
  }

  /** The kept properties of an element whose definition path is `path`. */
  private object(value: Obj, path: string, lenient: boolean, skip: Set<string> = new Set()): Obj {
    const out: Obj = {};
    for (const [key, v] of Object.entries(value)) {
      if (skip.has(key) || key === 'id' || key.startsWith('_')) continue;
      if (key === 'extension' || key === 'modifierExtension') {
        const ext = this.extensions(v, lenient);
        if (ext.length) out[key] = ext;
        continue;
      }
      if (key === 'contained') {
        const contained = (Array.isArray(v) ? v : []).filter(isObj).map((r) => ({ ...this.resource(r), id: r.id }));
        if (contained.length) out[key] = contained;
        continue;
      }
      const element = elementOf(path, key);
      if (!element) continue;
      const keep = (item: unknown) => this.value(item, element.type, element.path, lenient);
      if (Array.isArray(v)) {
        const items = v.map(keep).filter((x) => x !== undefined);
        if (items.length) out[key] = items;
      } else {
        const x = keep(v);
        if (x !== undefined) out[key] = x;
      }
      // Extensions on a kept primitive (_birthDate...) go with it.
      const primitiveExt = value[`_${key}`];
      if (out[key] !== undefined && isObj(primitiveExt)) {
        const ext = this.extensions(primitiveExt.extension, lenient);
        if (ext.length) out[`_${key}`] = { extension: ext };
      }
    }
    return out;
  }

  private extensions(v: unknown, lenient: boolean): Obj[] {
    const out: Obj[] = [];
    for (const e of Array.isArray(v) ? v : []) {
      if (!isObj(e) || typeof e.url !== 'string') continue;
      const kept = this.object(e, 'Extension', lenient, new Set(['url']));
      if (Object.keys(kept).length) out.push({ url: e.url, ...kept });
    }
    return out;
  }

  private value(v: unknown, type: string, path: string, lenient: boolean): unknown {
    if (DROPPED_TYPES.has(type)) return undefined;
    if (!isObj(v)) return this.primitive(v, type, path, lenient);
    switch (type) {
      case 'Reference':
        return this.reference(v, lenient);
      case 'Identifier':
        return this.identifier(v, lenient);
      case 'Address': {
        const out: Obj = {};
        for (const k of ['use', 'type', 'postalCode', 'country']) if (typeof v[k] === 'string') out[k] = v[k];
        if (isObj(v.period)) out.period = this.object(v.period, 'Period', lenient);
        return Object.keys(out).length ? out : undefined;
      }
      case 'CodeableConcept': {
        const out = this.object(v, 'CodeableConcept', false);
        return Object.keys(out).length ? out : masked();
      }
      case 'Meta': {
        const out = this.object(v, 'Meta', lenient, new Set(['source']));
        return Object.keys(out).length ? out : undefined;
      }
      case 'Resource':
        return this.resource(v);
      case 'BackboneElement':
      case 'Element':
        return this.nonEmpty(this.object(v, path, lenient));
      default:
        return this.nonEmpty(this.object(v, type, lenient));
    }
  }

  private nonEmpty(o: Obj): Obj | undefined {
    return Object.keys(o).length ? o : undefined;
  }

  private primitive(v: unknown, type: string, path: string, lenient: boolean): unknown {
    if (typeof v === 'string') {
      if (YEAR_ONLY.has(path)) return v.slice(0, 4);
      if (KEPT_PRIMITIVES.has(type)) return v;
      if ((lenient || KEPT_STRINGS.has(path)) && !containsSsin(v)) return v;
      return undefined;
    }
    return typeof v === 'number' || typeof v === 'boolean' ? v : undefined;
  }

  private identifier(v: Obj, lenient: boolean): Obj | undefined {
    const out: Obj = {};
    if (typeof v.use === 'string') out.use = v.use;
    if (isObj(v.type)) out.type = this.value(v.type, 'CodeableConcept', 'Identifier.type', lenient);
    if (typeof v.system === 'string') out.system = v.system;
    if (typeof v.value === 'string') {
      if (lenient && !containsSsin(v.value)) out.value = v.value;
      else out.value = this.identifierValue(typeof v.system === 'string' ? v.system : undefined, v.value);
    }
    if (isObj(v.period)) out.period = this.object(v.period, 'Period', lenient);
    if (isObj(v.assigner)) {
      const a = this.reference(v.assigner, lenient);
      if (a.reference || a.identifier) out.assigner = a;
    }
    return Object.keys(out).length ? out : undefined;
  }

  private reference(v: Obj, lenient: boolean): Obj {
    const out: Obj = {};
    if (typeof v.reference === 'string') {
      const rewritten = this.rewriteReference(v.reference);
      if (rewritten) out.reference = rewritten;
    }
    if (typeof v.type === 'string') out.type = v.type;
    if (isObj(v.identifier)) {
      const id = this.identifier(v.identifier, lenient);
      if (id) out.identifier = id;
    }
    return Object.keys(out).length ? out : masked();
  }

  /** Type/id (relative, or absolute on this server) with the pseudonymous id; contained refs as they are; others dropped. */
  rewriteReference(reference: string): string | undefined {
    if (reference.startsWith('#')) return reference;
    let r = reference;
    const base = this.options.baseUrl;
    if (base && r.startsWith(`${base}/`)) r = r.slice(base.length + 1);
    const m = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/.exec(r);
    return m ? `${m[1]}/${this.id(m[1], m[2])}` : undefined;
  }
}
