// Inside a user-mode Linux guest (bench/accuracy-system.ts): one client
// disciplines the guest's kernel clock from --server (through the relay, or
// straight), and every --every-ms the clock's error is measured against
// --truth, the reference server on the direct link (the least-delay of a
// short burst). Writes GUEST_DIR/series.csv (t_s, err_ns, delay_ns).
//   node --import tsx bench/tools/guest-clock.ts --client ours|chrony --server A:P --truth A:P --seconds N
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

import { BoardDaemon, boardConfig, DIR, errorToUpstreamNs } from '../../test/kernel/guest/board.js';

const { values } = parseArgs({
  options: { client: { type: 'string' }, server: { type: 'string' }, truth: { type: 'string' }, seconds: { type: 'string' }, 'every-ms': { type: 'string' } },
});
const server = values.server!;
const truth = values.truth!;
const seconds = Number(values.seconds ?? 120);
const everyMs = Number(values['every-ms'] ?? 500);

/** chronyd without -x: it owns this guest's kernel clock, as it would a board's. */
function startChrony(): ChildProcess {
  const dir = path.join(DIR, 'chrony');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const [host, port] = server.split(/:(?=\d+$)/);
  const conf = [
    `server ${host} port ${port} minpoll 0 maxpoll 0 iburst`,
    'port 0',
    'cmdport 0',
    `pidfile ${dir}/chronyd.pid`,
    `driftfile ${dir}/drift`,
    // As ours: the first correction steps above 1 ms, later ones slew.
    'makestep 0.001 1',
  ];
  writeFileSync(path.join(dir, 'chrony.conf'), conf.join('\n') + '\n');
  return spawn('chronyd', ['-d', '-u', 'root', '-f', path.join(dir, 'chrony.conf')], { stdio: 'ignore' });
}

let stop: () => Promise<void>;
if (values.client === 'chrony') {
  const c = startChrony();
  stop = async () => {
    c.kill('SIGTERM');
    await new Promise((r) => c.once('exit', r));
  };
} else {
  const d = new BoardDaemon(boardConfig({}, server)).start();
  stop = () => d.stop('SIGTERM');
}

const rows = ['t_s,err_ns,delay_ns'];
const t0 = Date.now();
while (Date.now() - t0 < seconds * 1000) {
  const next = Date.now() + everyMs;
  try {
    const e = await errorToUpstreamNs(3, truth);
    rows.push(`${((Date.now() - t0) / 1000).toFixed(3)},${e.offsetNs},${e.delayNs}`);
  } catch {
    rows.push(`${((Date.now() - t0) / 1000).toFixed(3)},,`);
  }
  await sleep(Math.max(0, next - Date.now()));
}
await stop();
writeFileSync(path.join(DIR, 'series.csv'), rows.join('\n') + '\n');
process.exit(0);
