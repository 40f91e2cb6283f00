// A private chronyd for tests: `chronyd -x` (never touches the clock) with
// its own config, port and files in a temp dir, in the foreground, stopped by
// its PID. Only loopback.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { UdpEndpoint } from '../../src/native/udp.js';
import { waitFor } from './wait.js';

export interface Chronyd {
  port: number;
  dir: string;
  log: () => string;
  stop: () => Promise<void>;
}

/** A free UDP port on 127.0.0.1 (bound and released; fine for tests). */
export function freePort(address = '127.0.0.1'): number {
  const ep = new UdpEndpoint({ address });
  const port = ep.address().port;
  ep.close();
  return port;
}

export async function startChronyd(conf: string[], files: Record<string, string> = {}): Promise<Chronyd> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ct-chrony-'));
  const port = freePort();
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  const lines = [`port ${port}`, 'bindaddress 127.0.0.1', 'cmdport 0', `pidfile ${dir}/chronyd.pid`, ...conf.map((l) => l.replaceAll('$DIR', dir))];
  writeFileSync(path.join(dir, 'chrony.conf'), lines.join('\n') + '\n');
  let log = '';
  const child: ChildProcess = spawn('chronyd', ['-x', '-d', '-u', 'root', '-f', path.join(dir, 'chrony.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  let exited = false;
  child.on('exit', () => (exited = true));
  await waitFor('chronyd to start', () => exited || /Disabled control of system clock/.test(log), 5000);
  if (exited) throw new Error(`chronyd exited: ${log}`);
  await new Promise((r) => setTimeout(r, 200));
  return {
    port,
    dir,
    log: () => log,
    stop: async () => {
      if (!exited) {
        child.kill('SIGTERM');
        await waitFor('chronyd to exit', () => exited, 5000).catch(() => child.kill('SIGKILL'));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
