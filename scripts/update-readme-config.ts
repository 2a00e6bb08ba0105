/** Rewrites the configuration table in README.md from src/config.ts (npm run docs:config). */
import fs from 'node:fs';
import { configTable, TABLE_END, TABLE_START } from '../src/config-table.js';

const readme = fs.readFileSync('README.md', 'utf8');
const start = readme.indexOf(TABLE_START);
const end = readme.indexOf(TABLE_END);
if (start < 0 || end < start) throw new Error('README.md has no configuration table markers');
fs.writeFileSync('README.md', `${readme.slice(0, start + TABLE_START.length)}\n${configTable()}\n${readme.slice(end)}`);
console.log('README.md configuration table updated');
