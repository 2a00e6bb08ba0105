import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

export interface ChildServer {
  url: string;
  pid: number;
  /** Milliseconds from spawn to the first 200 from /readyz. */
  startupMs: number;
  rssMb(): number;
  stop(): Promise<void>;
}

/** Resident memory of a process, from /proc (Linux). */
export function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`server at ${url} not ready after ${timeoutMs} ms`);
}

/** Runs a Node script in its own process (the server under test must not share a core with the load generator's event loop). */
export async function startChild(args: string[], env: Record<string, string>, port: number): Promise<ChildServer> {
  const started = Date.now();
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(url, child, 60_000);
  const startupMs = Date.now() - started;
  return {
    url,
    pid: child.pid!,
    startupMs,
    rssMb: () => rssMb(child.pid!),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
