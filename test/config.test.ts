import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('configuration from the environment', () => {
  it('has working defaults: port 8080 and the embedded database in ./data', () => {
    const config = loadConfig({});
    expect(config.port).toBe(8080);
    expect(config.databaseUrl).toBe('pglite://./data/db');
    expect(config.bodyLimitBytes).toBe(10 * 1024 * 1024);
    expect(config.refIntegrityOnWrite).toBe(true);
  });

  it('reads values and units', () => {
    const config = loadConfig({ PORT: '9090', BODY_LIMIT: '512kb', DATABASE_URL: 'postgres://u@db:5432/icr', REFERENTIAL_INTEGRITY_ON_DELETE: 'false', DATA_DIR: '/var/icr' });
    expect(config.port).toBe(9090);
    expect(config.bodyLimitBytes).toBe(512 * 1024);
    expect(config.databaseUrl).toBe('postgres://u@db:5432/icr');
    expect(config.refIntegrityOnDelete).toBe(false);
    expect(loadConfig({ DATA_DIR: '/var/icr' }).databaseUrl).toBe('pglite:///var/icr/db');
  });

  it('reports every wrong value at once, each with what would be valid', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud', BODY_LIMIT: '10 parsecs', FHIR_BASE_URL: 'not a url', REFERENTIAL_INTEGRITY_ON_WRITE: 'maybe' });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.problems).toHaveLength(6);
    expect(error!.message).toMatch(/PORT="eighty" is not a whole number \(expected 0 to 65535\)/);
    expect(error!.message).toMatch(/DATABASE_URL="mysql:\/\/x" is not supported \(expected postgres:\/\//);
    expect(error!.message).toMatch(/LOG_LEVEL="loud" is not one of fatal, error/);
    expect(error!.message).toMatch(/BODY_LIMIT="10 parsecs" is not a size/);
    expect(error!.message).toMatch(/FHIR_BASE_URL="not a url" is not an absolute URL/);
    expect(error!.message).toMatch(/REFERENTIAL_INTEGRITY_ON_WRITE="maybe" is not a boolean/);
  });

  it('checks values against each other', () => {
    expect(() => loadConfig({ DEFAULT_PAGE_SIZE: '500', MAX_PAGE_SIZE: '100' })).toThrow(/DEFAULT_PAGE_SIZE \(500\) is larger than MAX_PAGE_SIZE \(100\)/);
  });
});
