import { randomUUID } from 'node:crypto';
import type { BundleLink, OperationOutcome } from 'fhir/r4.js';
import { badRequest, issue, notFound, operationOutcome } from '../fhir/errors.js';
import { patientCompartmentParams } from '../fhir/compartments.js';
import { parseDateRange } from '../search/date-range.js';
import type { AnyCriterion, CompartmentCriterion, SearchRequest } from '../search/search-request.js';
import type { StoredResource, StoreSession } from '../store/resource-store.js';
import type { HistoryEntry } from '../store/history.js';
import { pageUrl } from './bundle-links.js';
import type { RequestContext } from './context.js';
import { RawJson, type FhirResponse } from './response.js';
import type { ServiceDeps } from './service-deps.js';
import { isSubsetting, subset } from './subsetting.js';

/** Most resources that _include and _revinclude add to one page. */
const MAX_INCLUDES = 1000;

interface Entry {
  resource: StoredResource;
  mode: 'match' | 'include';
}

/** search (type and compartment), and history (instance, type, system). */
export class SearchInteractions {
  constructor(private readonly deps: ServiceDeps) {}

  parse(ctx: RequestContext, type: string, params: [string, string][]): SearchRequest {
    return this.deps.parser.parse(type, params, {
      defaultCount: this.deps.config.defaultPageSize,
      maxCount: this.deps.config.maxPageSize,
      strict: ctx.prefer.handling === 'strict',
    });
  }

  async search(
    ctx: RequestContext,
    type: string,
    params: [string, string][],
    session?: StoreSession,
    compartment?: { type: string; id: string },
  ): Promise<FhirResponse> {
    await this.deps.policy.checkInteraction(ctx, 'search', type);
    const req = this.parse(ctx, type, params);
    const extra: AnyCriterion[] = [...(await this.deps.policy.searchRestrictions(ctx, type, session?.exec))];
    let path = type;
    if (compartment) {
      extra.push(this.compartmentCriterion(compartment, type));
      path = `${compartment.type}/${compartment.id}/${type}`;
    }
    const reader = session ?? this.deps.store.reader();
    const result = await reader.search(req, {
      localBase: ctx.baseUrl,
      maxIncludes: MAX_INCLUDES,
      restrictions: extra,
      includeFilter: (resources) => this.deps.policy.visible(ctx, resources, session?.exec),
    });
    const links: BundleLink[] = [{ relation: 'self', url: pageUrl(ctx.baseUrl, path, req.params, req.cursor ? [['_cursor', req.cursor]] : []) }];
    if (result.nextCursor) links.push({ relation: 'next', url: pageUrl(ctx.baseUrl, path, req.params, [['_cursor', result.nextCursor]]) });
    const entries: Entry[] = [
      ...result.matches.map((resource) => ({ resource, mode: 'match' as const })),
      ...result.includes.map((resource) => ({ resource, mode: 'include' as const })),
    ];
    const outcome = req.ignored.length
      ? operationOutcome(req.ignored.map((i) => issue('warning', 'not-supported', i.reason, i.name)))
      : undefined;
    const accessed = entries.map((e) => ({ type: e.resource.type, id: e.resource.id }));
    return { status: 200, headers: {}, body: searchBundle(ctx, req, result.total, links, entries, outcome), accessed };
  }

  private compartmentCriterion(compartment: { type: string; id: string }, type: string): AnyCriterion {
    if (compartment.type !== 'Patient') throw notFound(`The ${compartment.type} compartment is not supported; only Patient compartments are`);
    const codes = patientCompartmentParams(type);
    const params = codes.map((c) => this.deps.parser.registryParam(type, c)).filter((p) => p !== undefined);
    if (type === 'Patient') {
      // A patient is in its own compartment, with the patients it links to.
      return { kind: 'id-set', ids: [compartment.id] };
    }
    if (!params.length) throw badRequest(`${type} resources are not part of a patient compartment`);
    const criterion: CompartmentCriterion = { kind: 'compartment', params, targetType: 'Patient', targetId: compartment.id };
    return criterion;
  }

  async history(ctx: RequestContext, type: string | undefined, id: string | undefined, params: [string, string][], session?: StoreSession): Promise<FhirResponse> {
    await this.deps.policy.checkInteraction(ctx, 'history', type);
    let since: Date | undefined;
    let count = this.deps.config.defaultPageSize;
    let cursor: string | undefined;
    const kept: [string, string][] = [];
    for (const [name, value] of params) {
      if (name === '_since') {
        const range = parseDateRange(value);
        if (!range) throw badRequest(`_since must be an instant such as 2024-03-15T10:30:00Z, not '${value}'`, '_since');
        since = range.lo;
        kept.push([name, value]);
      } else if (name === '_count') {
        if (!/^\d+$/.test(value)) throw badRequest(`_count must be a whole number, not '${value}'`, '_count');
        count = Math.max(1, Math.min(Number(value), this.deps.config.maxPageSize));
        kept.push([name, value]);
      } else if (name === '_cursor') {
        cursor = value;
      } else if (name === '_at' || name === '_list') {
        throw badRequest(`${name} is not supported on history; use _since and _count`, name);
      } else if (name !== '_format' && name !== '_pretty') {
        if (ctx.prefer.handling === 'strict') throw badRequest(`'${name}' is not a history parameter`, name);
      }
    }
    const reader = session ?? this.deps.store.reader();
    if (id) {
      const current = await reader.read(type!, id);
      if (!current || !(await this.deps.policy.visible(ctx, [current], session?.exec)).length) throw notFound(`${type}/${id} is not known`);
    }
    const page = await reader.history({ type, id, since, count, cursor });
    // Deleted versions carry no content: whether they may be seen is decided on the current version.
    const visible = new Set((await this.deps.policy.visible(ctx, page.entries, session?.exec)).map((e) => `${e.type}/${e.id}/${e.version}`));
    const entries = page.entries.filter((e) => visible.has(`${e.type}/${e.id}/${e.version}`));
    const path = [type, id, '_history'].filter(Boolean).join('/');
    const links: BundleLink[] = [{ relation: 'self', url: pageUrl(ctx.baseUrl, path, kept, cursor ? [['_cursor', cursor]] : []) }];
    if (page.nextCursor) links.push({ relation: 'next', url: pageUrl(ctx.baseUrl, path, kept, [['_cursor', page.nextCursor]]) });
    return { status: 200, headers: {}, body: historyBundle(ctx, entries, links, page.total), accessed: entries.map((e) => ({ type: e.type, id: e.id })) };
  }
}

function bundleHead(type: string, total: number | undefined, links: BundleLink[]): string {
  return `{"resourceType":"Bundle","id":"${randomUUID()}","meta":{"lastUpdated":"${new Date().toISOString()}"},"type":"${type}"${
    total !== undefined ? `,"total":${total}` : ''
  },"link":${JSON.stringify(links)}`;
}

/**
 * The searchset Bundle, assembled from the stored JSON text without parsing it (unless the
 * client asked for a subset with _summary or _elements).
 */
function searchBundle(
  ctx: RequestContext,
  req: SearchRequest,
  total: number | undefined,
  links: BundleLink[],
  entries: Entry[],
  outcome: OperationOutcome | undefined,
): RawJson {
  const subsetting = isSubsetting(req.summary, req.elements);
  const parts = entries.map(({ resource: r, mode }) => {
    const json = subsetting ? JSON.stringify(subset(JSON.parse(r.json!), req.summary, req.elements)) : r.json!;
    return `{"fullUrl":${JSON.stringify(`${ctx.baseUrl}/${r.type}/${r.id}`)},"resource":${json},"search":{"mode":"${mode}"}}`;
  });
  if (outcome) parts.push(`{"resource":${JSON.stringify(outcome)},"search":{"mode":"outcome"}}`);
  const entry = req.summary === 'count' ? '' : `,"entry":[${parts.join(',')}]`;
  return new RawJson(`${bundleHead('searchset', total, links)}${entry}}`);
}

function historyBundle(ctx: RequestContext, entries: HistoryEntry[], links: BundleLink[], total: number | undefined): RawJson {
  const parts = entries.map((e) => {
    const url = e.method === 'POST' ? e.type : `${e.type}/${e.id}`;
    const status = e.method === 'DELETE' ? '204 No Content' : e.method === 'POST' || e.version === 1 ? '201 Created' : '200 OK';
    const response = JSON.stringify({ status, etag: `W/"${e.version}"`, lastModified: e.lastUpdated.toISOString() });
    const method = e.method === 'PATCH' ? 'PATCH' : e.method;
    return `{"fullUrl":${JSON.stringify(`${ctx.baseUrl}/${e.type}/${e.id}`)}${e.json ? `,"resource":${e.json}` : ''},"request":{"method":"${method}","url":${JSON.stringify(url)}},"response":${response}}`;
  });
  return new RawJson(`${bundleHead('history', total, links)},"entry":[${parts.join(',')}]}`);
}
