import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { loadDevKey, mintDevToken } from '../auth/dev-key.js';

const USAGE = `Usage: icr token --scope "<scopes>" [--sub <fhirUser reference>] [--patient <id>] [--role <role>]... [--expires <seconds>]

Prints a development token signed with the key in ICR_DEV_KEY (default $DATA_DIR/dev-key.json),
which a server using the same key accepts (AUTH_DEV_TOKENS, on unless an identity provider is set).

  --scope    SMART scopes, e.g. "system/*.cruds", "user/*.rs", "patient/*.rs patient/Goal.cu"
  --sub      the user as a FHIR reference (fhirUser claim), e.g. Practitioner/prac-els-maes,
             PractitionerRole/role-els-maes-nurse, RelatedPerson/rp-maria-peeters, Patient/pat-jan-peeters
  --patient  the patient in context (patient/ scopes), e.g. pat-jan-peeters
  --role     extra roles: admin (audit trail, everything), evaluation (pseudonymised export only)
  --expires  lifetime in seconds (default 3600)

Examples:
  icr token --scope "system/*.cruds"
  icr token --scope "user/*.cruds" --sub Practitioner/prac-els-maes
  icr token --scope "patient/*.rs" --patient pat-jan-peeters`;

export async function runTokenCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      scope: { type: 'string' },
      sub: { type: 'string' },
      patient: { type: 'string' },
      role: { type: 'string', multiple: true },
      expires: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values.scope) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  if (values.sub && !/^(Practitioner|PractitionerRole|RelatedPerson|Patient)\/[A-Za-z0-9\-.]{1,64}$/.test(values.sub)) {
    console.error(`icr token: --sub must be a reference such as Practitioner/<id>, not '${values.sub}'`);
    return 2;
  }
  const expires = values.expires === undefined ? 3600 : Number(values.expires);
  if (!Number.isInteger(expires) || expires <= 0) {
    console.error('icr token: --expires must be a whole number of seconds');
    return 2;
  }
  const config = loadConfig();
  const key = await loadDevKey(config.devKeyFile);
  const token = await mintDevToken(key, {
    scope: values.scope,
    fhirUser: values.sub,
    patient: values.patient ?? (values.sub?.startsWith('Patient/') ? values.sub.slice(8) : undefined),
    roles: values.role,
    audience: config.authAudience,
    expiresIn: expires,
  });
  console.log(token);
  return 0;
}
