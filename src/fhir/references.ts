import { isResourceType } from './resource-types.js';

export interface ParsedReference {
  type: string;
  id: string;
  version?: string;
}

const ID = '[A-Za-z0-9\\-.]{1,64}';
const RELATIVE = new RegExp(`^([A-Z][A-Za-z]+)/(${ID})(?:/_history/(${ID}))?$`);
const ABSOLUTE = new RegExp(`^(https?://.+)/([A-Z][A-Za-z]+)/(${ID})(?:/_history/(${ID}))?$`);

/** `Type/id` or `Type/id/_history/v`, for any FHIR-looking type name. */
export function parseRelativeReference(reference: string): ParsedReference | undefined {
  const m = RELATIVE.exec(reference);
  return m ? { type: m[1], id: m[2], version: m[3] } : undefined;
}

/** An absolute RESTful reference: base URL, type and id. */
export function parseAbsoluteReference(reference: string): (ParsedReference & { base: string }) | undefined {
  const m = ABSOLUTE.exec(reference);
  return m ? { base: m[1], type: m[2], id: m[3], version: m[4] } : undefined;
}

/** A reference to a resource of a type this server holds, given as Type/id. */
export function parseLocalReference(reference: string): ParsedReference | undefined {
  const r = parseRelativeReference(reference);
  return r && isResourceType(r.type) ? r : undefined;
}

export const ID_PATTERN = new RegExp(`^${ID}$`);
