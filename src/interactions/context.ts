import type { Language } from '../i18n/language.js';

export type PreferReturn = 'minimal' | 'representation' | 'OperationOutcome';

export interface Prefer {
  return?: PreferReturn;
  handling?: 'strict' | 'lenient';
  respondAsync?: boolean;
}

/** Who is calling. The security layer fills it from the bearer token. */
export interface Principal {
  /** 'system' for backend services, 'user' for practitioners and other users, 'patient' for patients. */
  kind: 'system' | 'user' | 'patient';
  /** Token subject. */
  subject: string;
  /** fhirUser claim as a reference, e.g. Practitioner/123. */
  fhirUser?: string;
  /** SMART launch patient (patient tokens). */
  patient?: string;
  scopes: string[];
  /** Extra roles from the token, e.g. 'evaluation', 'admin'. */
  roles: string[];
  clientId?: string;
  /** Token expiry (seconds since the epoch). */
  expiresAt?: number;
}

/** The server itself, and its command line: a system with every scope (import, start-up tasks). */
export const SYSTEM_PRINCIPAL: Principal = { kind: 'system', subject: 'system', scopes: ['system/*.cruds'], roles: [] };

/** Everything an interaction needs to know about the request besides its own arguments. */
export interface RequestContext {
  /** Absolute base of the FHIR API, e.g. https://record.example.be/fhir (no trailing slash). */
  baseUrl: string;
  lang: Language;
  prefer: Prefer;
  requestId: string;
  principal: Principal;
  sourceAddress?: string;
  /** The pretty-printing flag (_pretty=true). */
  pretty?: boolean;
  /**
   * The media types the client accepts, most wanted first (FHIR JSON as application/fhir+json),
   * for operations that can answer in another one (text/csv); undefined means FHIR JSON.
   */
  accept?: string[];
}

export function parsePrefer(header: string | undefined): Prefer {
  const prefer: Prefer = {};
  if (!header) return prefer;
  for (const part of header.split(/[,;]/)) {
    const [k, v] = part.trim().split('=').map((s) => s?.trim().replace(/^"|"$/g, ''));
    if (k === 'return' && (v === 'minimal' || v === 'representation' || v === 'OperationOutcome')) prefer.return = v;
    else if (k === 'handling' && (v === 'strict' || v === 'lenient')) prefer.handling = v;
    else if (k === 'respond-async') prefer.respondAsync = true;
  }
  return prefer;
}
