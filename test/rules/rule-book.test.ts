import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultProfilesDir } from '../../src/validation/profiles-loader.js';
import { CodeDisplays } from '../../src/rules/code-displays.js';
import { evaluateConsortium } from '../../src/rules/consortium.js';
import { callOf } from '../../src/rules/model.js';
import { compileRulesFile, RuleBook } from '../../src/rules/rule-book.js';
import { MunicipalityData, parseCsv } from '../../src/rules/statbel.js';
import { CALL, CONSORTIUM_RULES, CARE_TEAM_RULES, consortiumBundle, statbelPopulation } from './helpers.js';

const profiles = defaultProfilesDir();
const rulesDir = join(profiles, 'rules');
const read = (file: string) => JSON.parse(readFileSync(join(rulesDir, file), 'utf8')) as Record<string, unknown>;
const data = MunicipalityData.load();
const displays = CodeDisplays.load(profiles);

describe('rules files (profiles/rules)', () => {
  const dirs: string[] = [];
  const folder = (files: Record<string, unknown>) => {
    const dir = mkdtempSync(join(tmpdir(), 'icr-rules-'));
    dirs.push(dir);
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), JSON.stringify(content));
    return dir;
  };
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('ship the 2016 call and the care-team rules, each with an id, a version, its source and texts in three languages', () => {
    const book = RuleBook.load(rulesDir);
    expect(book.defaultConsortium.url).toBe(CONSORTIUM_RULES);
    expect(book.defaultConsortium.version).toBe('1.0.0');
    expect(book.defaultConsortium.source.file).toBe('shared/context/2016-pilot-call.nl.txt');
    expect(book.careTeamRules(book.defaultConsortium).url).toBe(CARE_TEAM_RULES);
    expect(book.defaultConsortium.rules.map((r) => r.id)).toEqual([
      'gp', 'home-nursing', 'hospital', 'home-or-residential-care', 'medical-specialism', 'consultation-structure', 'patient-association',
      'sel', 'lmn', 'ggz-platform', 'logo', 'other-actors', 'region-defined', 'region-codes-known', 'region-population', 'region-overlap',
    ]);
    expect(book.careTeamRules(undefined).rules.map((r) => `${r.id}:${r.severity}`)).toEqual([
      'patient:error', 'gp:error', 'nurse:error', 'coordinator:error', 'informal-caregiver:warning', 'participant-period:warning', 'consortium-partner:warning',
    ]);
    for (const rule of book.defaultConsortium.rules) expect(Object.keys(rule.title).sort(), rule.id).toEqual(['en', 'fr', 'nl']);
  });

  it('take a new call as a new file: a consortium that names it is checked against its rules', () => {
    const call2031 = read('consortium-rules-2016.json');
    call2031.id = 'consortium-2031';
    call2031.url = 'https://fhir.integrated-care.be/rules/consortium-2031';
    call2031.default = false;
    const rules = call2031.rules as Record<string, unknown>[];
    rules.find((r) => r.id === 'region-population')!.min = 100000;
    rules.find((r) => r.id === 'hospital')!.severity = 'warning';
    const dir = folder({ 'consortium-rules-2016.json': read('consortium-rules-2016.json'), 'consortium-rules-2031.json': call2031, 'care-team-rules-2016.json': read('care-team-rules-2016.json') });
    const book = RuleBook.load(dir);
    expect(book.calls().sort()).toEqual([`${CONSORTIUM_RULES}|1.0.0`, 'https://fhir.integrated-care.be/rules/consortium-2031|1.0.0']);
    // Kortrijk alone: 77,109 inhabitants in 2020, enough for 2016, too few for the new call
    const consortium = (call: string) => {
      const bundle = consortiumBundle({ region: ['34022'], call, without: ['hospital'] }) as { entry: { resource: Record<string, unknown> }[] };
      const org = bundle.entry[0].resource;
      const affiliations = bundle.entry.filter((e) => e.resource.resourceType === 'OrganizationAffiliation').map((e) => ({ resource: e.resource, partner: { name: 'p' } }));
      return { consortium: org, path: 'Organization', affiliations };
    };
    const run = (call: string) => {
      const input = consortium(call);
      const rules = book.consortiumRules(callOf(input.consortium))!;
      return evaluateConsortium(input, rules, [], { data, displays, lang: 'en', day: '2026-01-01' }).filter((i) => i.severity !== 'information').map((i) => `${i.severity}:${i.details?.coding?.[0].code}`);
    };
    expect(run(CONSORTIUM_RULES)).toEqual(['error:hospital', 'error:medical-specialism']);
    expect(run('https://fhir.integrated-care.be/rules/consortium-2031')).toEqual(['error:medical-specialism', 'error:region-population', 'warning:hospital']);
    expect(statbelPopulation('34022')).toBe(77109);
  });

  it('are checked at start-up, and a mistake names the file and the place', () => {
    const base = read('care-team-rules-2016.json');
    const rules = base.rules as Record<string, unknown>[];
    const variant = (change: (r: Record<string, unknown>[]) => void) => {
      const copy = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
      change(copy.rules as Record<string, unknown>[]);
      return copy;
    };
    expect(() => compileRulesFile(variant((r) => (r[1].type = 'rol')), 'x.json')).toThrow(/^x\.json: rules\[1\] \(gp\): unknown type rol; care-team rules know subject-participant, role, participant-period, consortium-partner$/);
    expect(() => compileRulesFile(variant((r) => delete ((r[1].messages as Record<string, Record<string, string>>).notMet.fr)), 'x.json')).toThrow(/rules\[1\]\.messages\.notMet\.fr: a text is required/);
    expect(() => compileRulesFile(variant((r) => ((r[1].messages as Record<string, Record<string, string>>).notMet.en = 'no {doctor}')), 'x.json')).toThrow(/unknown placeholder \{doctor\}/);
    expect(() => compileRulesFile(variant((r) => (r[1].codes = ['persgeneralphysician'])), 'x.json')).toThrow(/write a code as alias#code/);
    expect(() => compileRulesFile(variant((r) => (r[1].severity = 'fatal')), 'x.json')).toThrow(/severity must be error, warning or information/);
    expect(() => compileRulesFile({ ...base, kind: 'team' }, 'x.json')).toThrow(/kind must be "consortium" or "care-team"/);
    expect(rules).toHaveLength(7);
    const twice = folder({ 'a.json': read('consortium-rules-2016.json'), 'b.json': { ...read('consortium-rules-2016.json'), version: '1.1.0' }, 'c.json': base });
    expect(() => RuleBook.load(twice)).toThrow(/several consortium rules files are marked default: .*[ab]\.json, .*[ab]\.json/);
    const noDefault = folder({ 'a.json': { ...read('consortium-rules-2016.json'), default: false }, 'b.json': { ...read('consortium-rules-2016.json'), version: '1.1.0', default: false }, 'c.json': base });
    expect(() => RuleBook.load(noDefault)).toThrow(/mark one consortium rules file "default": true/);
  });

  it('pick the newest version of a call unless the consortium names one', () => {
    const dir = folder({ 'a.json': read('consortium-rules-2016.json'), 'b.json': { ...read('consortium-rules-2016.json'), version: '1.1.0', default: false }, 'c.json': read('care-team-rules-2016.json') });
    const book = RuleBook.load(dir);
    expect(book.consortiumRules(CONSORTIUM_RULES)!.version).toBe('1.1.0');
    expect(book.consortiumRules(`${CONSORTIUM_RULES}|1.0.0`)!.version).toBe('1.0.0');
    expect(book.consortiumRules(`${CONSORTIUM_RULES}|9.9.9`)).toBeUndefined();
    expect(CALL).toMatch(/icr-consortium-call$/);
  });
});

describe('Statbel data (fixtures/statbel)', () => {
  it('holds the 581 municipalities of 2020 and their population, as the file says', () => {
    const text = readFileSync(new URL('../../fixtures/statbel/municipalities-2020.csv', import.meta.url), 'utf8');
    const rows = parseCsv(text).slice(1);
    expect(rows).toHaveLength(581);
    expect(data.count).toBe(581);
    const all = rows.map((r) => r[0]);
    expect(data.population(all)).toBe(11492641);
    expect(data.population(all)).toBe(statbelPopulation(...all));
  });

  it('reads 2025 codes as the 2020 municipalities that merged, and 2020 codes as they were', () => {
    expect(data.resolve('37022')).toEqual({ code: '37022', boundaries: '2025', parts: ['37007', '37015'] });
    expect(data.resolve('46030')!.parts.sort()).toEqual(['11056', '46003', '46013']);
    expect(data.resolve('11002')!.parts).toEqual(['11002', '11007']);
    expect(data.resolve('11002', '2020')!.parts).toEqual(['11002']);
    expect(data.resolve('37015')).toEqual({ code: '37015', boundaries: '2020', parts: ['37015'] });
    expect(data.resolve('37015', '2025')).toBeUndefined();
    expect(data.resolve('34022', '2025')!.parts).toEqual(['34022']);
    expect(data.resolve('37022', '2020')).toBeUndefined();
    expect(data.resolve('99999')).toBeUndefined();
    expect(data.resolve('34022', '2019')).toBeUndefined();
    // 565 municipalities after the mergers of 2025
    const rows = parseCsv(readFileSync(new URL('../../fixtures/statbel/municipalities-2020.csv', import.meta.url), 'utf8')).slice(1);
    const after = new Set(rows.map((r) => r[0]).flatMap((nis) => (data.resolve(nis, '2025') ? [nis] : [])));
    for (const code of ['23106', '37021', '37022', '44086', '44087', '44088', '46029', '46030', '73110', '73111', '71071', '71072', '82039']) after.add(code);
    expect(after.size).toBe(565);
  });

  it('names municipalities in the reader\'s language and finds them from an address', () => {
    expect([data.name('62063', 'nl'), data.name('62063', 'fr'), data.name('62063', 'en')]).toEqual(['Luik', 'Liège', 'Liège']);
    expect(data.name('34022', 'en')).toBe('Kortrijk');
    expect(data.name('21009', 'en')).toBe('Ixelles / Elsene');
    expect(data.name('46030', 'fr')).toBe('Beveren-Kruibeke-Zwijndrecht');
    expect(data.locate('8500', 'Kortrijk')).toBe('34022');
    expect(data.locate('8501', 'Kortrijk')).toBe('34022');
    expect(data.locate(undefined, 'LIEGE')).toBe('62063');
    expect(data.locate('4000', 'Liège')).toBe('62063');
    expect(data.locate('4031', undefined)).toBe('62063');
    expect(data.locate('4000', undefined)).toBeUndefined();
    expect(data.locate('8501', 'Heule')).toBeUndefined();
  });
});
