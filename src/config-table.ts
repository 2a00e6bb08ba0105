import { SETTINGS } from './config.js';

/** The README's configuration table, rendered from the settings themselves so that it cannot drift. */
export function configTable(): string {
  const rows = Object.values(SETTINGS).map((s) => `| \`${s.name}\` | ${s.defaultText} | ${s.description} |`);
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

export const TABLE_START = '<!-- config-table:start (npm run docs:config) -->';
export const TABLE_END = '<!-- config-table:end -->';
