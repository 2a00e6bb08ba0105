import type { CapabilityStatementRestSecurity } from 'fhir/r4.js';
import type { Config } from '../config.js';

type AuthConfig = Pick<Config, 'authIssuer' | 'authJwksUrl' | 'authAuthorizeUrl' | 'authTokenUrl' | 'corsOrigins' | 'devTokens'>;

/** /.well-known/smart-configuration: what we accept, for SMART clients to discover. */
export function smartConfiguration(config: AuthConfig): Record<string, unknown> {
  return {
    ...(config.authIssuer ? { issuer: config.authIssuer } : {}),
    ...(config.authJwksUrl ? { jwks_uri: config.authJwksUrl } : {}),
    ...(config.authAuthorizeUrl ? { authorization_endpoint: config.authAuthorizeUrl } : {}),
    ...(config.authTokenUrl ? { token_endpoint: config.authTokenUrl } : {}),
    grant_types_supported: ['authorization_code', 'client_credentials'],
    token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_basic'],
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    scopes_supported: ['openid', 'fhirUser', 'launch/patient', 'patient/*.rs', 'patient/Goal.cruds', 'user/*.cruds', 'user/*.rs', 'system/*.cruds', 'system/*.rs'],
    capabilities: [
      'launch-standalone',
      'client-public',
      'client-confidential-symmetric',
      'client-confidential-asymmetric',
      'context-standalone-patient',
      'permission-patient',
      'permission-user',
      'permission-v1',
      'permission-v2',
    ],
  };
}

export function capabilitySecurity(config: AuthConfig): CapabilityStatementRestSecurity {
  const uris = [
    ...(config.authAuthorizeUrl ? [{ url: 'authorize', valueUri: config.authAuthorizeUrl }] : []),
    ...(config.authTokenUrl ? [{ url: 'token', valueUri: config.authTokenUrl }] : []),
  ];
  return {
    cors: config.corsOrigins.length > 0,
    service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR', display: 'SMART-on-FHIR' }] }],
    ...(uris.length ? { extension: [{ url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris', extension: uris }] } : {}),
    description:
      'Bearer JWTs, verified against the identity provider (JWKS)' +
      (config.devTokens ? ' or the local development key' : '') +
      '. SMART v2 scopes (patient|user|system/Type|*.cruds; v1 .read/.write/.* accepted). ' +
      'Practitioners, their roles and informal caregivers see only patients whose active care team includes them, unless the patient\'s consent denies them; ' +
      'patients see their own compartment; system clients what their scopes allow. Every access to patient data is recorded as an AuditEvent.',
  };
}
