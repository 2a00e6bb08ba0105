import { ConfigError, type Config } from './config.js';
import { createLogger, type Logger } from './logging.js';
import type { AccessPolicy } from './interactions/access-policy.js';
import { AuditTrail } from './audit/audit-trail.js';
import { maintainAccessIndex, rebuildAccessIndexIfAsked } from './auth/access-index.js';
import { CareTeamPolicy } from './auth/care-team-policy.js';
import { loadDevKey } from './auth/dev-key.js';
import { capabilitySecurity } from './auth/smart-configuration.js';
import { TokenVerifier } from './auth/token-verifier.js';
import { FhirService } from './interactions/fhir-service.js';
import type { Validator, WriteCheck } from './interactions/service-deps.js';
import { searchParameters } from './search/parameters.js';
import { SearchRequestParser } from './search/search-request.js';
import type { Database } from './store/database.js';
import { openDatabase } from './store/open-database.js';
import { ResourceStore } from './store/resource-store.js';
import { defaultRules } from './rules/index.js';
import { publishGuidelines } from './rules/publish-guidelines.js';
import { SYSTEM_PRINCIPAL } from './interactions/context.js';
import { setupEvaluation, type Evaluation } from './indicators/index.js';
import type { SyncContext } from './sync/index.js';
import { VERSION } from './version.js';

/** Everything the server, the CLI and the sync worker share, wired once. */
export interface Runtime {
  config: Config;
  logger: Logger;
  db: Database;
  store: ResourceStore;
  service: FhirService;
  validator: Validator;
  /** Verifies the bearer tokens of the HTTP API. */
  verifier: TokenVerifier;
  /** Records access to patient data. */
  audit: AuditTrail;
  /** Sync with the upstream FHIR server (outbox hook, $sync-* operations), when UPSTREAM_FHIR_URL is set. */
  sync?: SyncContext;
  /** Pilot evaluation: indicators ($evaluate-measure, $indicators) and bulk export ($export, its worker). */
  evaluation: Evaluation;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  logger?: Logger;
  validator?: Validator;
  policy?: AccessPolicy;
  writeChecks?: WriteCheck[];
  /** A migrated PGlite dump that new embedded databases start from (tests). */
  template?: Blob;
}

async function defaultValidator(config: Config): Promise<Validator> {
  const { createValidator } = await import('./validation/index.js');
  try {
    return await createValidator({ requiredProfiles: config.requiredProfiles });
  } catch (err) {
    if (config.requiredProfiles) throw new ConfigError([`REQUIRED_PROFILES: ${(err as Error).message}`]);
    throw err;
  }
}

export async function createRuntime(config: Config, options: RuntimeOptions = {}): Promise<Runtime> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const [db, validator] = await Promise.all([
    openDatabase({ url: config.databaseUrl, schema: config.databaseSchema, poolSize: config.databasePoolSize, template: options.template }),
    options.validator ?? defaultValidator(config),
  ]);
  const registry = searchParameters();
  const store = new ResourceStore(db, registry, {
    refIntegrityOnWrite: config.refIntegrityOnWrite,
    refIntegrityOnDelete: config.refIntegrityOnDelete,
  });
  const policy = options.policy ?? new CareTeamPolicy(registry, db);
  const stopListening = await maintainAccessIndex(store, () => (policy instanceof CareTeamPolicy ? policy.cache.invalidate() : undefined));
  await rebuildAccessIndexIfAsked(store);
  const verifier = await TokenVerifier.create({
    audience: config.authAudience,
    issuer: config.authIssuer,
    jwksUrl: config.authJwksUrl,
    jwksFile: config.authJwksFile,
    devKey: config.devTokens ? await loadDevKey(config.devKeyFile) : undefined,
    algorithms: config.authAlgorithms,
    clockSkewSeconds: config.authClockSkewSeconds,
  });
  const service = new FhirService(
    {
      store,
      validator,
      policy,
      parser: new SearchRequestParser(registry),
      config,
      writeChecks: options.writeChecks ?? [defaultRules().careTeamCheck()],
    },
    VERSION,
  );
  const audit = new AuditTrail(store, { flushMs: config.auditFlushMs, logger });
  service.auditor = audit;
  service.security = capabilitySecurity(config);
  defaultRules().registerOperations(service);
  await publishGuidelines(service, defaultRules(), { baseUrl: config.baseUrl ?? `http://localhost:${config.port}/fhir`, lang: 'en', prefer: { return: 'minimal' }, requestId: 'startup', principal: SYSTEM_PRINCIPAL }, logger);
  const evaluation = await setupEvaluation({ config, store, service, rules: defaultRules(), logger });
  const sync = config.upstreamFhirUrl ? (await import('./sync/index.js')).setupSync({ config, db, store, service, validator, logger }) : undefined;
  const close = async () => {
    if (!(await service.idle(config.shutdownTimeoutMs))) logger.warn({ timeoutMs: config.shutdownTimeoutMs }, 'requests still running at shutdown; closing the database anyway');
    await evaluation.close();
    await audit.close();
    await stopListening();
    await db.close();
  };
  return { config, logger, db, store, service, validator, verifier, audit, sync, evaluation, close };
}
