import { FhirError } from '../fhir/errors.js';
import type { InteractionRequest } from '../interactions/dispatch.js';
import type { FhirResponse } from '../interactions/response.js';
import { listFiles, readItems, type ImportFailure, type ImportItem } from './import-sources.js';

export interface ImportSummary {
  created: number;
  updated: number;
  unchanged: number;
  failed: ImportFailure[];
}

/** Where imported resources go: the local service, or a running server over HTTP. */
export type ImportSink = (req: InteractionRequest) => Promise<FhirResponse>;

export interface ImportProgress {
  start(total: number): void;
  tick(): void;
  stop(): void;
}

function requestFor(value: unknown): InteractionRequest {
  const r = value as { resourceType?: unknown; id?: unknown; type?: unknown };
  const base = { query: [] as [string, string][], rawQuery: '', body: value };
  if (!r || typeof r !== 'object' || typeof r.resourceType !== 'string') {
    throw new Error('not a FHIR resource (no resourceType)');
  }
  if (r.resourceType === 'Bundle') return { ...base, method: 'POST', path: '' };
  if (typeof r.id === 'string') return { ...base, method: 'PUT', path: `${r.resourceType}/${r.id}` };
  return { ...base, method: 'POST', path: r.resourceType };
}

function tally(summary: ImportSummary, item: ImportItem, response: FhirResponse): void {
  const body = response.body as { resourceType?: string; entry?: { response?: { status?: string; outcome?: { issue?: { diagnostics?: string }[] } } }[] } | undefined;
  if (body && 'resourceType' in body && body.resourceType === 'Bundle') {
    for (const [i, e] of (body.entry ?? []).entries()) {
      const status = Number(e.response?.status?.split(' ')[0]);
      if (status === 201) summary.created++;
      else if (status === 200 && e.response?.outcome?.issue?.some((x) => x.diagnostics?.startsWith('Unchanged'))) summary.unchanged++;
      else if (status === 200) summary.updated++;
      else summary.failed.push({ source: `${item.source}#entry[${i}]`, message: e.response?.outcome?.issue?.map((x) => x.diagnostics).join('; ') ?? `status ${status}` });
    }
    return;
  }
  if (response.status === 201) summary.created++;
  else if (response.unchanged) summary.unchanged++;
  else summary.updated++;
}

function message(err: unknown): string {
  if (err instanceof FhirError) {
    const errors = err.outcome.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal');
    return (errors.length ? errors : err.outcome.issue).map((i) => i.diagnostics ?? i.details?.text).join('; ');
  }
  return (err as Error).message;
}

/** A reference to something later in the input: worth another pass once the rest is in. */
const isMissingReference = (err: unknown) =>
  err instanceof FhirError && err.status === 422 && err.outcome.issue.every((i) => i.code === 'not-found' && /does not exist/.test(i.diagnostics ?? ''));

/**
 * Imports files of resources, Bundles and NDJSON. Items that fail only because they refer to a
 * resource that comes later are tried again after the others, until no more can be added.
 */
export async function importPaths(paths: string[], sink: ImportSink, progress?: ImportProgress): Promise<ImportSummary> {
  const summary: ImportSummary = { created: 0, updated: 0, unchanged: 0, failed: [] };
  const items: ImportItem[] = [];
  for (const file of await listFiles(paths)) {
    const read = await readItems(file);
    items.push(...read.items);
    summary.failed.push(...read.failures);
  }
  progress?.start(items.length);
  let pending = items;
  for (;;) {
    const retry: { item: ImportItem; err: unknown }[] = [];
    for (const item of pending) {
      try {
        tally(summary, item, await sink({ ...requestFor(item.value) }));
        progress?.tick();
      } catch (err) {
        if (isMissingReference(err)) retry.push({ item, err });
        else {
          summary.failed.push({ source: item.source, message: message(err) });
          progress?.tick();
        }
      }
    }
    if (!retry.length || retry.length === pending.length) {
      for (const { item, err } of retry) {
        summary.failed.push({ source: item.source, message: message(err) });
        progress?.tick();
      }
      break;
    }
    pending = retry.map((r) => r.item);
  }
  progress?.stop();
  return summary;
}
