import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { OperationOutcome, OperationOutcomeIssue } from 'fhir/r4.js';
import { hasErrors, issue } from '../fhir/errors.js';
import { LANGUAGES, type Language } from '../i18n/language.js';
import { createValidator, PROFILE_BASE_URL, type ResourceValidator } from '../validation/index.js';

/**
 * `icr validate <file|dir>... [--profile URL] [--json] [--lang nl|fr|en] [--base-only]`
 *
 * Offline validation for vendors, like the HL7 validator CLI: JSON resources (a Bundle is
 * validated with its entries) and NDJSON files (one resource per line), against the R4 base and
 * the project's profiles. Exit code 0 when nothing is an error, 1 when anything is, 2 on bad usage.
 */

export interface CommandIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const defaultIo: CommandIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

const USAGE = `usage: icr validate <file|dir>... [--profile URL]... [--json] [--lang en|nl|fr] [--base-only]

  Validates FHIR R4 JSON resources, Bundles and NDJSON files against the base specification and the
  Integrated Care Record profiles (${PROFILE_BASE_URL}).
  --profile URL   also check this profile (repeatable; canonical URL, optionally |version)
  --json          print one OperationOutcome per file (one JSON document per line)
  --lang          language of the messages (default en)
  --base-only     check the base specification and meta.profile only, not the required profiles
  Exit code: 0 no errors, 1 errors found, 2 bad usage.
`;

const FILE_EXTENSION = 'https://fhir.integrated-care.be/StructureDefinition/validated-file';

let shared: Promise<ResourceValidator> | undefined;

interface Options {
  paths: string[];
  profiles: string[];
  json: boolean;
  lang: Language;
  baseOnly: boolean;
}

function parseArgs(argv: string[]): Options | string {
  const options: Options = { paths: [], profiles: [], json: false, lang: 'en', baseOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') options.json = true;
    else if (a === '--base-only') options.baseOnly = true;
    else if (a === '--profile' || a.startsWith('--profile=')) {
      const value = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (!value) return '--profile needs a URL';
      options.profiles.push(value);
    } else if (a === '--lang' || a.startsWith('--lang=')) {
      const value = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (!(LANGUAGES as readonly string[]).includes(value ?? '')) return `--lang must be one of ${LANGUAGES.join(', ')}`;
      options.lang = value as Language;
    } else if (a === '--help' || a === '-h') return '';
    else if (a.startsWith('--')) return `unknown option ${a}`;
    else options.paths.push(a);
  }
  if (!options.paths.length) return 'no file or folder given';
  return options;
}

/** The files to validate: the given files, and the .json/.ndjson files under the given folders. */
function collectFiles(paths: string[]): { files: string[]; missing: string[] } {
  const files: string[] = [];
  const missing: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith('.') || name === 'node_modules') continue;
      const full = join(dir, name);
      const st = statSync(full);
      if (st.isDirectory()) walk(full);
      else if (name.endsWith('.json') || name.endsWith('.ndjson')) files.push(full);
    }
  };
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      missing.push(p);
      continue;
    }
    if (st.isDirectory()) walk(p);
    else files.push(p);
  }
  return { files, missing };
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Validates one file; NDJSON issues carry the line in `location` (as the HL7 validator does). */
function validateFile(file: string, validator: ResourceValidator, options: Options): OperationOutcomeIssue[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return [issue('fatal', 'exception', `cannot read ${file}: ${errorMessage(e)}`)];
  }
  const validateOptions = { profiles: options.profiles, lang: options.lang, baseOnly: options.baseOnly };
  if (file.endsWith('.ndjson')) {
    const issues: OperationOutcomeIssue[] = [];
    text.split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      const location = [`Line ${i + 1}`];
      let resource: unknown;
      try {
        resource = JSON.parse(line);
      } catch (e) {
        issues.push({ ...issue('fatal', 'structure', `line ${i + 1}: not valid JSON (${errorMessage(e)})`), location });
        return;
      }
      for (const found of validator.validate(resource, validateOptions)) issues.push({ ...found, location });
    });
    return issues;
  }
  let resource: unknown;
  try {
    resource = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    return [issue('fatal', 'structure', `not valid JSON (${errorMessage(e)})`)];
  }
  return validator.validate(resource, validateOptions);
}

function summary(issues: OperationOutcomeIssue[]): string {
  const errors = issues.filter((i) => i.severity === 'error' || i.severity === 'fatal').length;
  const warnings = issues.filter((i) => i.severity === 'warning').length;
  return `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`;
}

function humanReport(file: string, issues: OperationOutcomeIssue[]): string {
  const lines = [`${file}: ${issues.length ? summary(issues) : 'valid'}`];
  for (const i of issues) {
    const where = [i.location?.[0], i.expression?.[0]].filter(Boolean).join(' ');
    const text = i.details?.text ?? i.diagnostics ?? i.code;
    // The message starts with the location already; print it once.
    const message = where && text.startsWith((i.expression?.[0] ?? '') + ': ') ? text.slice((i.expression?.[0] ?? '').length + 2) : text;
    lines.push(`  ${i.severity.padEnd(11)} ${where ? where + '  ' : ''}${message}`);
  }
  return lines.join('\n') + '\n';
}

export async function runValidateCommand(argv: string[], io: CommandIo = defaultIo): Promise<number> {
  const options = parseArgs(argv);
  if (typeof options === 'string') {
    if (options) io.err(`icr validate: ${options}\n`);
    io.err(USAGE);
    return options ? 2 : 0;
  }
  const { files, missing } = collectFiles(options.paths);
  for (const m of missing) io.err(`icr validate: ${m}: no such file or folder\n`);
  if (missing.length) return 2;
  if (!files.length) {
    io.err('icr validate: no .json or .ndjson files found\n');
    return 2;
  }
  let validator: ResourceValidator;
  try {
    validator = await (shared ??= createValidator());
  } catch (e) {
    shared = undefined;
    io.err(`icr validate: cannot load the profiles: ${errorMessage(e)}\n`);
    return 2;
  }
  let failed = false;
  let totalErrors = 0;
  for (const file of files) {
    const issues = validateFile(file, validator, options);
    if (hasErrors(issues)) failed = true;
    totalErrors += issues.filter((i) => i.severity === 'error' || i.severity === 'fatal').length;
    const shown = relative(process.cwd(), file) || file;
    if (options.json) {
      const outcome: OperationOutcome = {
        resourceType: 'OperationOutcome',
        extension: [{ url: FILE_EXTENSION, valueString: shown }],
        issue: issues.length ? issues : [issue('information', 'informational', 'All OK')],
      };
      io.out(JSON.stringify(outcome) + '\n');
    } else io.out(humanReport(shown, issues));
  }
  if (!options.json) io.out(`${files.length} file${files.length === 1 ? '' : 's'} checked, ${totalErrors} error${totalErrors === 1 ? '' : 's'}\n`);
  return failed ? 1 : 0;
}
