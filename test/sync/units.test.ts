import { describe, expect, it } from 'vitest';
import { loadConfig, type ConfigError } from '../../src/config.js';
import { backoffDelay, parseRetryAfter, retryDelay } from '../../src/sync/backoff.js';
import { contentKey, forLocal, forUpstream, sameContent } from '../../src/sync/content.js';
import { parseEntry } from '../../src/sync/puller.js';
import { entryResult, parseCapabilities, typeCapability, versionOf } from '../../src/sync/upstream.js';

describe('retry delays', () => {
  const policy = { baseMs: 100, maxMs: 5000 };

  it('grow exponentially with full jitter, up to the cap', () => {
    expect(backoffDelay(1, policy, () => 0.999)).toBe(99);
    expect(backoffDelay(4, policy, () => 0.999)).toBe(799);
    expect(backoffDelay(30, policy, () => 0.999)).toBe(4995);
    expect(backoffDelay(1000, policy, () => 0.5)).toBe(2500);
    expect(backoffDelay(5, policy, () => 0)).toBe(0);
    const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(6, policy)));
    expect(spread.size).toBeGreaterThan(10);
    for (const d of spread) expect(d).toBeLessThan(3200);
  });

  it('take Retry-After in seconds or as an HTTP date, over the backoff', () => {
    const now = Date.parse('2024-06-01T12:00:00Z');
    expect(parseRetryAfter('7')).toBe(7000);
    expect(parseRetryAfter('Sat, 01 Jun 2024 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Sat, 01 Jun 2024 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('99999999')).toBe(86_400_000);
    expect(retryDelay(1, policy, 12_000)).toBe(12_000);
    expect(retryDelay(1, policy, undefined, () => 0.5)).toBe(50);
  });
});

describe('content comparison', () => {
  const local = { resourceType: 'Patient', id: 'a', meta: { versionId: '3', lastUpdated: '2024-01-01T00:00:00Z', profile: ['p'] }, name: [{ family: 'X', given: ['Y'] }] };

  it('ignores what servers own (versionId, lastUpdated, meta.source) and the order of keys', () => {
    const upstream = { name: [{ given: ['Y'], family: 'X' }], meta: { profile: ['p'], versionId: '0f7c', lastUpdated: '2025-05-05T10:00:00.123+00:00', source: '#abc' }, id: 'a', resourceType: 'Patient' };
    expect(sameContent(local, upstream)).toBe(true);
    expect(sameContent(local, { ...upstream, meta: { versionId: '1' } })).toBe(false);
    expect(sameContent(local, { ...upstream, name: [{ family: 'X', given: ['Z'] }] })).toBe(false);
    expect(contentKey({ resourceType: 'Patient', meta: { versionId: '1' } })).toBe(contentKey({ resourceType: 'Patient' }));
  });

  it('sends our resource without our version, and stores upstream resources with relative references', () => {
    expect(forUpstream(JSON.stringify(local))).toEqual({ resourceType: 'Patient', id: 'a', meta: { profile: ['p'] }, name: local.name });
    expect(forUpstream(JSON.stringify({ resourceType: 'Patient', id: 'b', meta: { versionId: '1' } }))).toEqual({ resourceType: 'Patient', id: 'b' });
    const pulled = forLocal(
      { resourceType: 'CarePlan', id: 'c', meta: { versionId: '4', lastUpdated: 'x' }, subject: { reference: 'https://hapi.example.be/fhir/Patient/1' }, author: { reference: 'https://other.example.be/fhir/Practitioner/2' } },
      'https://hapi.example.be/fhir',
    );
    expect(pulled).toEqual({ resourceType: 'CarePlan', id: 'c', subject: { reference: 'Patient/1' }, author: { reference: 'https://other.example.be/fhir/Practitioner/2' } });
  });
});

describe('reading upstream answers', () => {
  it('reads a HAPI history entry of a delete (no resource, version in the URL and ETag)', () => {
    const entry = { fullUrl: 'https://hapi.example.be/fhir/Patient/123', request: { method: 'DELETE' as const, url: 'Patient/123/_history/2' }, response: { status: '200 OK', etag: 'W/"2"' } };
    expect(parseEntry(entry, 'Patient')).toEqual({ type: 'Patient', id: '123', version: '2', lastUpdated: undefined, deleted: true, resource: undefined });
    const put = {
      resource: { resourceType: 'Patient', id: 'p1', meta: { versionId: '5', lastUpdated: '2024-03-01T10:00:00.000+00:00' } },
      request: { method: 'PUT' as const, url: 'Patient/p1' },
      response: { status: '200 OK' },
    };
    expect(parseEntry(put as never, 'Patient')).toMatchObject({ id: 'p1', version: '5', deleted: false, lastUpdated: new Date('2024-03-01T10:00:00Z') });
    expect(parseEntry(put as never, 'CarePlan')).toBeUndefined();
    expect(parseEntry({ request: { method: 'DELETE', url: 'Patient/../../x' } } as never, 'Patient')).toBeUndefined();
  });

  it('finds version ids in ETags, Locations and meta', () => {
    expect(versionOf('W/"7"')).toBe('7');
    expect(versionOf('"a1b2"')).toBe('a1b2');
    expect(versionOf(undefined, 'Patient/1/_history/9')).toBe('9');
    expect(versionOf(undefined, 'Patient/1', { meta: { versionId: 'u-u-i-d' } })).toBe('u-u-i-d');
    expect(entryResult({ response: { status: '201 Created', etag: 'W/"1"', lastModified: '2024-01-01T00:00:00Z' } })).toEqual({ status: 201, version: '1', lastUpdated: new Date('2024-01-01T00:00:00Z') });
    expect(entryResult({ response: { status: '412 Precondition Failed' } }).status).toBe(412);
    expect(entryResult(undefined).status).toBe(500);
  });

  it('reads what a CapabilityStatement says the upstream does', () => {
    const caps = parseCapabilities({
      resourceType: 'CapabilityStatement',
      status: 'active',
      date: '2024',
      kind: 'instance',
      fhirVersion: '4.0.1',
      format: ['json'],
      software: { name: 'HAPI FHIR Server', version: '8.0.0' },
      rest: [
        {
          mode: 'server',
          interaction: [{ code: 'transaction' }, { code: 'history-system' }],
          resource: [
            { type: 'Patient', versioning: 'versioned-update', updateCreate: true, interaction: [{ code: 'read' }, { code: 'update' }, { code: 'delete' }, { code: 'history-type' }] },
            { type: 'Goal', versioning: 'versioned', interaction: [{ code: 'read' }, { code: 'search-type' }] },
          ],
        },
      ],
    });
    expect(caps).toMatchObject({ transaction: true, batch: false, systemHistory: true, software: 'HAPI FHIR Server 8.0.0', assumed: false });
    expect(typeCapability(caps, 'Patient')).toMatchObject({ update: true, historyType: true, versionedUpdate: true });
    expect(typeCapability(caps, 'Goal')).toMatchObject({ update: false, historyType: false, searchType: true, versionedUpdate: false });
    expect(typeCapability(caps, 'CarePlan')).toBeUndefined();
    const none = parseCapabilities(undefined);
    expect(none.assumed).toBe(true);
    expect(typeCapability(none, 'CarePlan')).toMatchObject({ update: true, historyType: true });
  });
});

describe('sync settings', () => {
  it('are off without UPSTREAM_FHIR_URL and checked when it is set', () => {
    const off = loadConfig({});
    expect(off.upstreamFhirUrl).toBeUndefined();
    expect(off.syncTypes).not.toContain('AuditEvent');
    expect(off).toMatchObject({ syncBatchSize: 50, syncPollIntervalMs: 5000, syncInServer: true, upstreamAuth: 'none' });
    expect(loadConfig({ UPSTREAM_FHIR_URL: 'https://hapi.example.be/fhir/', UPSTREAM_BEARER_TOKEN: 't' })).toMatchObject({ upstreamFhirUrl: 'https://hapi.example.be/fhir', upstreamAuth: 'bearer' });
    let error: ConfigError | undefined;
    try {
      loadConfig({ UPSTREAM_FHIR_URL: 'hapi', SYNC_TYPES: 'Patient,Observation', SYNC_BATCH_SIZE: '0', UPSTREAM_AUTH: 'basic' });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error?.problems).toEqual([
      'UPSTREAM_FHIR_URL="hapi" is not an absolute URL (expected e.g. http://hapi:8080/fhir)',
      'UPSTREAM_AUTH="basic" is not one of none, bearer, smart-backend',
      expect.stringContaining('SYNC_TYPES names types this server does not hold: Observation'),
      'SYNC_BATCH_SIZE=0 is out of range (expected 1 to 1000)',
    ]);
    expect(() => loadConfig({ UPSTREAM_FHIR_URL: 'http://h/fhir', UPSTREAM_AUTH: 'smart-backend', UPSTREAM_CLIENT_ID: 'icr' })).toThrow(/UPSTREAM_PRIVATE_KEY_FILE/);
  });
});
