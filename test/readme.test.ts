import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configTable, TABLE_END, TABLE_START } from '../src/config-table.js';

describe('README', () => {
  const readme = fs.readFileSync('README.md', 'utf8');

  it('documents every configuration variable as the code defines it (npm run docs:config)', () => {
    const table = readme.slice(readme.indexOf(TABLE_START) + TABLE_START.length, readme.indexOf(TABLE_END)).trim();
    expect(table).toBe(configTable());
  });

  it('starts with the two commands: run the service, run the tests', () => {
    const firstBlock = /```(?:sh|bash)?\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    expect(firstBlock).toMatch(/npm install && npm start/);
    expect(firstBlock).toMatch(/npm install && npm test/);
  });
});
