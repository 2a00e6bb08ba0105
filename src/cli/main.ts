#!/usr/bin/env node
import { ConfigError } from '../config.js';
import { VERSION } from '../version.js';

const HELP = `icr ${VERSION}: the Integrated Care Record, a FHIR R4 server for Belgian integrated care

Usage: icr <command> [options]

Commands:
  serve                         run the FHIR server (configuration from environment variables)
  import <file|dir>...          load resources, Bundles and NDJSON files (--server URL to go through a running server)
  validate <file|dir>...        validate resources against the base spec and our profiles
  token --scope "<scopes>"      mint a development token (signed with ICR_DEV_KEY)
  sync                          run the sync worker alone (push to and pull from UPSTREAM_FHIR_URL)
  indicators --period-start <date> --period-end <date>   evaluation indicators per consortium (CSV or MeasureReports)
  export --out <dir>            a bulk export into NDJSON files (--pseudonymise as evaluation teams get it)
  help                          this text

Run 'icr <command> --help' for the options of a command.`;

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve-command.js')).runServeCommand,
  import: async () => (await import('./import-command.js')).runImportCommand,
  validate: async () => (await import('./validate-command.js')).runValidateCommand,
  token: async () => (await import('./token-command.js')).runTokenCommand,
  sync: async () => (await import('./sync-command.js')).runSyncCommand,
  indicators: async () => (await import('./indicators-command.js')).runIndicatorsCommand,
  export: async () => (await import('./export-command.js')).runExportCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    console.log(HELP);
    return name ? 0 : 2;
  }
  if (name === '--version' || name === 'version') {
    console.log(VERSION);
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    console.error(`icr: unknown command '${name}'\n\n${HELP}`);
    return 2;
  }
  return (await load())(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError) console.error(err.message);
    else if ((err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') console.error(`icr: ${(err as Error).message}`);
    else console.error(err);
    process.exitCode = err instanceof ConfigError ? 78 : 1;
  },
);
