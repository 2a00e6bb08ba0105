/**
 * The floor: a bare Express handler doing the same INSERT and SELECT of the same JSON, with no
 * FHIR logic at all (no validation, no index, no versions). What our server does is measured
 * against this, in the same run.
 */
import { randomUUID } from 'node:crypto';
import express from 'express';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';

type Query = (sql: string, params: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>;

async function connect(): Promise<Query> {
  const url = process.env.DATABASE_URL ?? 'memory://';
  if (url.startsWith('postgres')) {
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    return (sql, params) => pool.query(sql, params);
  }
  const db = await PGlite.create();
  return (sql, params) => db.query(sql, params) as Promise<{ rows: Record<string, unknown>[] }>;
}

const query = await connect();
await query('CREATE TABLE IF NOT EXISTS floor_resource (id text PRIMARY KEY, res_type text NOT NULL, patient text, content text NOT NULL)', []);
await query('CREATE INDEX IF NOT EXISTS floor_patient ON floor_resource (patient)', []);

const app = express();
app.use(express.raw({ type: () => true, limit: '10mb' }));
app.get('/readyz', (_req, res) => {
  res.send('ok');
});
app.post('/fhir/:type', async (req, res) => {
  const body = JSON.parse((req.body as Buffer).toString('utf8')) as { subject?: { reference?: string } };
  const id = randomUUID();
  const content = JSON.stringify({ ...body, id });
  await query('INSERT INTO floor_resource (id, res_type, patient, content) VALUES ($1, $2, $3, $4)', [id, req.params.type, body.subject?.reference ?? null, content]);
  res.status(201).type('application/fhir+json').send(content);
});
app.get('/fhir/:type/:id', async (req, res) => {
  const { rows } = await query('SELECT content FROM floor_resource WHERE id = $1', [req.params.id]);
  if (!rows[0]) return void res.status(404).end();
  res.type('application/fhir+json').send(rows[0].content as string);
});
app.get('/fhir/:type', async (req, res) => {
  const { rows } = await query('SELECT content FROM floor_resource WHERE res_type = $1 AND patient = $2', [req.params.type, `Patient/${String(req.query.patient)}`]);
  res.type('application/fhir+json').send(`{"resourceType":"Bundle","type":"searchset","entry":[${rows.map((r) => `{"resource":${r.content as string}}`).join(',')}]}`);
});
app.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
