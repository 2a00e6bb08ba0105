import fs from 'node:fs/promises';
import path from 'node:path';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * An embedded database folder may be opened by one process only: a second PGlite on the same
 * folder would corrupt it. Returns the function that releases the lock.
 */
export async function lockFolder(dir: string): Promise<() => Promise<void>> {
  const file = path.join(dir, 'icr.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.writeFile(file, String(process.pid), { flag: 'wx' });
      return () => fs.rm(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(await fs.readFile(file, 'utf8').catch(() => ''));
      if (pid && pid !== process.pid && alive(pid)) {
        throw new Error(
          `The database folder ${dir} is in use by process ${pid}. Stop that process first, or send the data to it over HTTP (icr import --server http://localhost:8080/fhir ...).`,
          { cause: err },
        );
      }
      // A lock left by a process that is gone.
      await fs.rm(file, { force: true });
    }
  }
  throw new Error(`Could not lock the database folder ${dir}`);
}
