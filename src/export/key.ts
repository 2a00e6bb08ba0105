import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * The export key: 32 random bytes (hex) in a file, made on first use with owner-only permissions,
 * like the development signing key. Every replica must read the same file (a mounted secret): the
 * pseudonyms of all exports derive from it. Losing it makes new exports unlinkable to old ones.
 */
export async function loadExportKey(file: string): Promise<Buffer> {
  let text: string;
  try {
    text = (await fs.readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    text = randomBytes(32).toString('hex');
    await fs.mkdir(path.dirname(file), { recursive: true });
    try {
      await fs.writeFile(file, `${text}\n`, { mode: 0o600, flag: 'wx' });
    } catch (e) {
      // Another process made it first: use theirs.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      text = (await fs.readFile(file, 'utf8')).trim();
    }
  }
  if (!/^[0-9a-f]{64,}$/i.test(text)) throw new Error(`${file} is not an export key (at least 64 hexadecimal characters)`);
  return Buffer.from(text, 'hex');
}

/**
 * The key of one evaluation client's exports: derived from the export key and the client id, so
 * that each client (evaluation team) gets pseudonyms that are stable across its exports and
 * cannot be linked with those another team received.
 */
export function clientKey(master: Buffer, client: string): Buffer {
  return createHmac('sha256', master).update(`icr-export-pseudonyms|${client}`).digest();
}
