// The kernel tier's scenarios, each run inside a fresh guest by a test in
// test/kernel/ (`node --import tsx test/kernel/guest/scenarios.ts NAME`). A
// scenario drives the board (factory date, daemon starts and kills, the link
// going down) and writes what it saw to GUEST_DIR/result.json; the host-side
// test asserts on it.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { writeState } from '../../../src/daemon/state.js';
import { monotonicRawNs, readKernelClock, realtimeNs } from '../../../src/native/clock.js';
import { query } from '../../../src/daemon/query.js';
import { BoardDaemon, boardConfig, cli, DIR, errorToUpstreamNs, kernel, run, SOCKET, STATE_DIR, writeResult } from './board.js';

/** Steps of the kernel clock: REALTIME − MONOTONIC_RAW moving by more than 1 ms between two looks 20 ms apart. */
class StepWatch {
  steps: { at: string; byMs: number }[] = [];
  #last = realtimeNs() - monotonicRawNs();
  #timer = setInterval(() => {
    const d = realtimeNs() - monotonicRawNs();
    const moved = Number(d - this.#last);
    if (Math.abs(moved) > 1e6) this.steps.push({ at: new Date(Number(realtimeNs() / 1_000_000n)).toISOString(), byMs: moved / 1e6 });
    this.#last = d;
  }, 20);

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** A service manager's notify socket: python3 (Node has no AF_UNIX datagrams) appends each message to a file. */
async function notifyReceiver(): Promise<{ socket: string; messages: () => string[]; stop: () => void }> {
  const socket = path.join(DIR, 'notify.sock');
  const file = path.join(DIR, 'notify.log');
  const py = 'import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nf=open(sys.argv[2],"a")\nwhile True:\n  f.write(s.recv(4096).decode()+"\\n\\x1e\\n"); f.flush()\n';
  const child = spawn('python3', ['-c', py, socket, file], { stdio: 'ignore' });
  const end = Date.now() + 10_000;
  while (!existsSync(socket) && Date.now() < end) await sleep(20);
  return {
    socket,
    messages: () => (existsSync(file) ? readFileSync(file, 'utf8').split('\n\x1e\n').filter(Boolean) : []),
    stop: () => child.kill('SIGKILL'),
  };
}

/**
 * A board's first boot: the clock at the factory date, the daemon started as
 * systemd would (Type=notify), wait-sync holding time-sync.target; one step,
 * then slews only; the kernel told it is synchronised, and told again when
 * the source is lost.
 */
async function firstBoot(): Promise<void> {
  const r: Record<string, unknown> = {};
  await run('date', ['-u', '-s', '@86400']);
  r['boot'] = { time: new Date(Number(realtimeNs() / 1_000_000n)).toISOString(), kernel: kernel() };
  r['waitNoDaemon'] = await cli(['wait-sync', '--socket', SOCKET, '--timeout', '2']);
  const notify = await notifyReceiver();
  const watch = new StepWatch();
  const d = new BoardDaemon(boardConfig()).start({ NOTIFY_SOCKET: notify.socket });
  const t0 = Date.now();
  r['waitSync'] = await cli(['wait-sync', '--socket', SOCKET, '--timeout', '90', '--max-offset', '5']);
  r['waitSyncS'] = (Date.now() - t0) / 1000;
  r['synced'] = { kernel: kernel(), error: await errorToUpstreamNs() };
  await sleep(15_000);
  r['later'] = { kernel: kernel(), error: await errorToUpstreamNs(), status: await d.status() };
  watch.stop();
  r['steps'] = watch.steps;
  // The link goes down: the source is lost, and the kernel must hear it.
  await run('ip', ['link', 'set', 'eth0', 'down']);
  const tLost = Date.now();
  await d.until('the source to be lost', (s) => !s.synced, 60_000);
  r['lostAfterS'] = (Date.now() - tLost) / 1000;
  r['lost'] = { kernel: kernel() };
  r['waitLost'] = await cli(['wait-sync', '--socket', SOCKET, '--timeout', '2']);
  await d.stop('SIGTERM');
  r['notify'] = notify.messages();
  notify.stop();
  r['stepLines'] = d.lines('clock step');
  r['exit'] = d.exit;
  writeResult(r);
}

const scenarios: Record<string, () => Promise<void>> = {
  'first-boot': firstBoot,
};

const name = process.argv[2] ?? '';
const scenario = scenarios[name];
if (!scenario) throw new Error(`no scenario ${JSON.stringify(name)}; there are: ${Object.keys(scenarios).join(', ')}`);
await scenario();
process.exit(0);
