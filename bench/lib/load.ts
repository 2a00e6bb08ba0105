import autocannon from 'autocannon';

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

export interface LoadRequest {
  method: 'GET' | 'POST';
  /** Called for each request: lets reads pick a different id every time. */
  path: () => string;
  body?: string;
  headers?: Record<string, string>;
}

export async function load(url: string, req: LoadRequest, connections: number, durationSeconds: number): Promise<LoadResult> {
  const result = await autocannon({
    url,
    connections,
    duration: durationSeconds,
    requests: [
      {
        method: req.method,
        headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json', ...req.headers },
        body: req.body,
        setupRequest: (r) => ({ ...r, path: req.path() }),
      },
    ],
  });
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx + result.timeouts,
  };
}
