// NTP servers for the loopback benches (bench/throughput.ts,
// bench/interleaved.ts), each started pinned to CPU 1 with taskset: our native
// server in its own process and `chronyd -x` serving its local clock.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Starts `cmd` on CPU 1 and resolves once its output matches `readyText` (15 s at most). */
export function startPinned(cmd: string, argv: string[], readyText: RegExp): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', ['-c', '1', cmd, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${cmd} did not start: ${out}`)), 15_000);
    const on = (d: Buffer) => {
      out += d;
      if (readyText.test(out)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    child.on('exit', (code) => reject(new Error(`${cmd} exited ${code}: ${out}`)));
  });
}

/** A certificate for NTS-KE on 127.0.0.1 (what `clocktower bench --nts --ca` trusts). */
export interface NtsCert {
  cert: string;
  key: string;
}

/** Our native server (test/interop/fixtures/serve.ts) on 127.0.0.1:port; with nts, NTS on and NTS-KE on port + 1000. */
export function startOurs(port: number, nts?: NtsCert): Promise<ChildProcess> {
  const extra = nts ? ['--nts', String(port + 1000), nts.cert, nts.key] : [];
  return startPinned(
    process.execPath,
    ['--import', 'tsx', path.join(root, 'test/interop/fixtures/serve.ts'), '127.0.0.1', String(port), '3', ...extra],
    /ready/,
  );
}

/** chronyd -x on 127.0.0.1:port (`local stratum 8`, no rate limit), its files in a new directory under `tmp`; with nts, its NTS-KE on port + 1000. */
export function startChronyd(port: number, tmp: string, nts?: NtsCert): Promise<ChildProcess> {
  const dir = mkdtempSync(path.join(tmp, 'chrony-'));
  const ntsLines = nts ? [`ntsport ${port + 1000}`, `ntsserverkey ${nts.key}`, `ntsservercert ${nts.cert}`, `ntsdumpdir ${dir}`, 'ntsprocesses 0'] : [];
  writeFileSync(
    path.join(dir, 'c.conf'),
    [`port ${port}`, 'bindaddress 127.0.0.1', 'cmdport 0', 'local stratum 8', 'allow 127.0.0.0/8', `pidfile ${dir}/pid`, ...ntsLines].join('\n') + '\n',
  );
  return startPinned('chronyd', ['-x', '-d', '-u', 'root', '-f', path.join(dir, 'c.conf')], /Disabled control of system clock/);
}
