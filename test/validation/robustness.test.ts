import { beforeAll, describe, expect, it } from 'vitest';
import type { ResourceValidator } from '../../src/validation/index.js';
import { realisticCarePlan, realisticCareTeam, realisticPatient, transactionBundle } from './fixtures/realistic.js';
import { validator } from './helpers.js';

let v: ResourceValidator;
beforeAll(async () => {
  v = await validator();
});

/** A small deterministic PRNG (mulberry32), so that a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ODD_VALUES: unknown[] = [null, 0, -1, 1.5, 1e308, '', ' ', 'x'.repeat(2000), true, [], [null], {}, { __proto__: { polluted: true } }, [[[]]], { resourceType: 'Patient' }, '#', 'urn:uuid:', '2023-02-30'];

/** Replaces one randomly chosen node (value, array item or property) of the JSON tree. */
function mutate(root: unknown, random: () => number): unknown {
  const copy = JSON.parse(JSON.stringify(root));
  const nodes: Array<[Record<string, unknown> | unknown[], string | number]> = [];
  const walk = (n: unknown) => {
    if (Array.isArray(n)) {
      n.forEach((x, i) => {
        nodes.push([n, i]);
        walk(x);
      });
    } else if (n && typeof n === 'object') {
      for (const k of Object.keys(n)) {
        nodes.push([n as Record<string, unknown>, k]);
        walk((n as Record<string, unknown>)[k]);
      }
    }
  };
  walk(copy);
  const [parent, key] = nodes[Math.floor(random() * nodes.length)];
  const choice = random();
  if (choice < 0.7) (parent as Record<string | number, unknown>)[key] = ODD_VALUES[Math.floor(random() * ODD_VALUES.length)];
  else if (choice < 0.85 && !Array.isArray(parent)) delete (parent as Record<string, unknown>)[key as string];
  else if (!Array.isArray(parent)) (parent as Record<string, unknown>)[`${String(key)}X`] = (parent as Record<string, unknown>)[key as string];
  return copy;
}

describe('bad input of any kind', () => {
  it('never throws and never fails internally on 2000 random mutations of realistic resources', () => {
    const random = rng(20261122);
    const seeds = [realisticPatient(), realisticCareTeam(), realisticCarePlan(), transactionBundle(10)];
    let withErrors = 0;
    for (let i = 0; i < 2000; i++) {
      let input: unknown = seeds[i % seeds.length];
      const rounds = 1 + Math.floor(random() * 3);
      for (let r = 0; r < rounds; r++) input = mutate(input, random);
      const issues = v.validate(input);
      expect(issues.filter((x) => x.severity === 'fatal'), JSON.stringify(input).slice(0, 300)).toEqual([]);
      for (const x of issues) {
        expect(x.expression?.[0]).toMatch(/^[A-Z][A-Za-z]*/);
        expect(typeof x.diagnostics).toBe('string');
      }
      if (issues.some((x) => x.severity === 'error')) withErrors++;
    }
    // Most mutations break something; the validator must notice.
    expect(withErrors).toBeGreaterThan(1000);
  });

  it('does not let a __proto__ property pollute anything', () => {
    const input = JSON.parse('{"resourceType":"Patient","__proto__":{"gender":"male"},"constructor":{"x":1},"toString":"y"}');
    const issues = v.validate(input, { baseOnly: true });
    const unknown = issues.filter((i) => i.code === 'structure').map((i) => i.expression?.[0]).sort();
    expect(unknown).toEqual(['Patient.__proto__', 'Patient.constructor', 'Patient.toString']);
    expect(({} as Record<string, unknown>).gender).toBeUndefined();
  });

  it('stops listing after 1000 errors', () => {
    const junk: Record<string, unknown> = { resourceType: 'Patient', text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">x</div>' } };
    for (let i = 0; i < 50000; i++) junk[`junk${i}`] = i;
    const start = performance.now();
    const issues = v.validate(junk, { baseOnly: true });
    expect(performance.now() - start).toBeLessThan(2000);
    expect(issues).toHaveLength(1001);
    expect(issues.slice(0, 1000).every((i) => i.severity === 'error')).toBe(true);
    expect(issues[1000]).toMatchObject({ severity: 'warning', code: 'too-costly', expression: ['Patient'] });
  });

  it('handles a very large resource in linear time', () => {
    const p = realisticPatient();
    p.name = Array.from({ length: 20000 }, (_, i) => ({ family: `F${i}`, given: ['G'] }));
    const start = performance.now();
    const issues = v.validate(p);
    expect(issues).toEqual([]);
    expect(performance.now() - start).toBeLessThan(2000);
  });
});
