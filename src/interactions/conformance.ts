import { badRequest, notFound } from '../fhir/errors.js';
import type { AccessPolicy } from './access-policy.js';
import type { RequestContext } from './context.js';
import type { FhirResponse } from './response.js';

type Resource = Record<string, unknown> & { resourceType: string; id: string };

/** Search parameters of the read-only catalog (string values matched exactly, as tokens). */
const PARAMS = ['_id', 'url', 'name', 'status', 'version'] as const;
const RESULT_PARAMS = new Set(['_count', '_format', '_pretty', '_summary', '_elements', '_total']);

/**
 * Conformance resources that the server serves read-only and does not store: the Measures of
 * profiles/ (the indicators are computed by code that matches them, so they change with a
 * release, not through the API). read and search (by _id, url, name, status, version); their
 * operations ($evaluate-measure) route like those of stored types.
 */
export class ConformanceResources {
  private readonly byType = new Map<string, Map<string, Resource>>();

  constructor(private readonly policy: AccessPolicy) {}

  register(type: string, resources: Resource[]): void {
    const map = this.byType.get(type) ?? new Map<string, Resource>();
    for (const r of resources) map.set(r.id, r);
    this.byType.set(type, map);
  }

  handles(type: string): boolean {
    return this.byType.has(type);
  }

  types(): string[] {
    return [...this.byType.keys()];
  }

  searchParams(): readonly string[] {
    return PARAMS;
  }

  get(type: string, id: string): Resource | undefined {
    return this.byType.get(type)?.get(id);
  }

  all(type: string): Resource[] {
    return [...(this.byType.get(type)?.values() ?? [])];
  }

  async read(ctx: RequestContext, type: string, id: string): Promise<FhirResponse> {
    await this.policy.checkInteraction(ctx, 'read', type);
    const r = this.get(type, id);
    if (!r) throw notFound(`${type}/${id} is not known; GET ${type} lists them`);
    return { status: 200, headers: {}, body: r };
  }

  async search(ctx: RequestContext, type: string, query: [string, string][]): Promise<FhirResponse> {
    await this.policy.checkInteraction(ctx, 'search', type);
    let matches = this.all(type);
    for (const [name, value] of query) {
      if (RESULT_PARAMS.has(name)) continue;
      if (!(PARAMS as readonly string[]).includes(name)) {
        if (ctx.prefer.handling === 'strict') throw badRequest(`${type} is searched by ${PARAMS.join(', ')} only, not '${name}'`, name);
        continue;
      }
      const wanted = new Set(value.split(','));
      const key = name === '_id' ? 'id' : name;
      matches = matches.filter((r) => wanted.has(String(r[key])));
    }
    const self = `${ctx.baseUrl}/${type}${query.length ? `?${new URLSearchParams(query).toString()}` : ''}`;
    return {
      status: 200,
      headers: {},
      body: {
        resourceType: 'Bundle',
        type: 'searchset',
        total: matches.length,
        link: [{ relation: 'self', url: self }],
        entry: matches.map((r) => ({ fullUrl: `${ctx.baseUrl}/${type}/${r.id}`, resource: r, search: { mode: 'match' } })),
      },
    };
  }
}
