import { FhirError, operationOutcome, issue } from '../fhir/errors.js';
import type { InteractionRequest } from '../interactions/dispatch.js';
import type { FhirResponse } from '../interactions/response.js';
import type { ImportSink } from './importer.js';

/** Sends import requests to a running server (for example while it holds the embedded database). */
export function httpSink(baseUrl: string, token?: string): ImportSink {
  const base = baseUrl.replace(/\/+$/, '');
  return async (req: InteractionRequest): Promise<FhirResponse> => {
    const res = await fetch(`${base}/${req.path}`, {
      method: req.method,
      headers: {
        'Content-Type': 'application/fhir+json',
        Accept: 'application/fhir+json',
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      },
      body: req.body === undefined ? undefined : JSON.stringify(req.body),
    });
    const text = await res.text();
    const body = text ? (JSON.parse(text) as object) : undefined;
    if (res.status >= 400) {
      const outcome = body && (body as { resourceType?: string }).resourceType === 'OperationOutcome' ? (body as FhirError['outcome']) : operationOutcome([issue('error', 'exception', `HTTP ${res.status}`)]);
      throw new FhirError(res.status, outcome);
    }
    return { status: res.status, headers: {}, body };
  };
}
