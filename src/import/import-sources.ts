import fs from 'node:fs/promises';
import path from 'node:path';

/** One thing to import: a resource or a batch/transaction Bundle, with where it came from. */
export interface ImportItem {
  source: string;
  value: unknown;
}

export interface ImportFailure {
  source: string;
  message: string;
}

/** The JSON and NDJSON files below the given paths, in a stable (sorted) order. */
export async function listFiles(paths: string[]): Promise<string[]> {
  const files: string[] = [];
  const visit = async (p: string): Promise<void> => {
    const stat = await fs.stat(p);
    if (stat.isDirectory()) {
      const names = (await fs.readdir(p)).sort();
      for (const name of names) if (!name.startsWith('.')) await visit(path.join(p, name));
    } else if (/\.(json|ndjson)$/i.test(p)) {
      files.push(p);
    }
  };
  for (const p of paths) await visit(p);
  return files;
}

/**
 * The items of one file. A collection or searchset Bundle is unpacked into its resources; batch
 * and transaction Bundles stay whole, to be processed as such. Unreadable input becomes a failure.
 */
export async function readItems(file: string): Promise<{ items: ImportItem[]; failures: ImportFailure[] }> {
  const text = await fs.readFile(file, 'utf8');
  const items: ImportItem[] = [];
  const failures: ImportFailure[] = [];
  if (/\.ndjson$/i.test(file)) {
    text.split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      try {
        items.push({ source: `${file}:${i + 1}`, value: JSON.parse(line) });
      } catch (err) {
        failures.push({ source: `${file}:${i + 1}`, message: `not valid JSON: ${(err as Error).message}` });
      }
    });
    return { items, failures };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { items, failures: [{ source: file, message: `not valid JSON: ${(err as Error).message}` }] };
  }
  const bundle = value as { resourceType?: string; type?: string; entry?: { resource?: unknown }[] };
  if (bundle?.resourceType === 'Bundle' && bundle.type !== 'batch' && bundle.type !== 'transaction') {
    (bundle.entry ?? []).forEach((e, i) => {
      if (e?.resource) items.push({ source: `${file}#entry[${i}]`, value: e.resource });
    });
  } else {
    items.push({ source: file, value });
  }
  return { items, failures };
}
