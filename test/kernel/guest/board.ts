// What a kernel-tier scenario uses inside its guest (test/helpers/uml.ts): the
// daemon in system mode as a board would run it, the kernel clock's state,
// and measurements against the upstream. Everything lands in GUEST_DIR, which
// the host reads after the guest powers off.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { controlRequest } from '../../../src/daemon/control.js';
import { query } from '../../../src/tools/query.js';
import type { Status } from '../../../src/daemon/status.js';
import { readKernelClock, realtimeNs, type KernelClock } from '../../../src/native/clock.js';
import { nodeArgv } from '../../helpers/node.js';

export const DIR = process.env['GUEST_DIR'] ?? '/tmp';
export const UPSTREAM = process.env['UPSTREAM'] ?? '198.18.1.1:123';
export const STATE_DIR = path.join(DIR, 'state');
export const SOCKET = path.join(DIR, 'ctl.sock');

/** A board's config: one node, system clock, the upstream polled every second (through NTS with `upstreamNts`, its KE port). */
export function boardConfig(extra: { clock?: string[]; state?: string[]; upstreamNts?: number; tables?: string[] } = {}, upstream = UPSTREAM): string {
  const file = path.join(DIR, 'clocktower.toml');
  writeFileSync(
    file,
    [
      '[node]',
      'id = "board"',
      'priority = 5',
      '[ntp]',
      'listen = ["127.0.0.1:123"]',
      '[cluster]',
      'listen = "127.0.0.1:12300"',
      '[upstream]',
      `servers = [{ address = "${upstream}", minpoll = 0, maxpoll = 0, iburst = true${extra.upstreamNts ? `, nts = true, nts_port = ${extra.upstreamNts}` : ''} }]`,
      '[clock]',
      'mode = "system"',
      ...(extra.clock ?? []),
      '[state]',
      `dir = "${STATE_DIR}"`,
      'save_interval = "1s"',
      ...(extra.state ?? []),
      '[control]',
      `socket = "${SOCKET}"`,
      '[log]',
      'level = "debug"',
      ...(extra.tables ?? []),
      '',
    ].join('\n'),
  );
  mkdirSync(STATE_DIR, { recursive: true });
  return file;
}

/** The daemon as a child process; its log goes to GUEST_DIR/daemon-N.log. */
export class BoardDaemon {
  child!: ChildProcess;
  log = '';
  exit: { code: number | null; signal: string | null } | null = null;
  static #n = 0;

  constructor(readonly config: string) {}

  start(env: Record<string, string> = {}): this {
    const logFile = path.join(DIR, `daemon-${++BoardDaemon.#n}.log`);
    const [cmd, ...args] = nodeArgv('src/cli/bin.ts', ['run', '--config', this.config]);
    this.exit = null;
    this.log = '';
    this.child = spawn(cmd!, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const take = (d: Buffer) => {
      this.log += d;
      appendFileSync(logFile, d);
    };
    this.child.stdout!.on('data', take);
    this.child.stderr!.on('data', take);
    this.child.on('exit', (code, signal) => (this.exit = { code, signal }));
    return this;
  }

  async status(): Promise<Status | null> {
    try {
      return (await controlRequest(SOCKET, { cmd: 'status' }, 2000)) as Status;
    } catch {
      return null;
    }
  }

  /** Polls status until `cond` holds; throws after limitMs. */
  async until(what: string, cond: (s: Status) => boolean, limitMs: number): Promise<Status> {
    const end = Date.now() + limitMs;
    for (;;) {
      if (this.exit) throw new Error(`daemon exited (${JSON.stringify(this.exit)}) waiting for ${what}:\n${this.log.slice(-2000)}`);
      const s = await this.status();
      if (s && cond(s)) return s;
      if (Date.now() > end)
        throw new Error(
          `timed out after ${limitMs} ms waiting for ${what}; last: ${s ? JSON.stringify({ role: s.role, synced: s.synced, source: s.source }) : 'no status'}`,
        );
      await sleep(100);
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', limitMs = 10_000): Promise<void> {
    if (this.exit) return;
    this.child.kill(signal);
    const end = Date.now() + limitMs;
    while (!this.exit && Date.now() < end) await sleep(20);
    if (!this.exit) throw new Error(`daemon did not exit within ${limitMs} ms of ${signal}`);
  }

  /** Log lines with this message (the logger writes `level message key=value...`). */
  lines(message: string): string[] {
    return this.log.split('\n').filter((l) => l.includes(message));
  }
}

/** The kernel clock as adjtimex reads it, for the result file. */
export function kernel(): Pick<KernelClock, 'state' | 'synced' | 'pll' | 'leap' | 'offsetNs' | 'freqPpm' | 'maxErrorUs' | 'estErrorUs'> {
  const k = readKernelClock();
  return {
    state: k.state,
    synced: k.synced,
    pll: k.pll,
    leap: k.leap,
    offsetNs: k.offsetNs,
    freqPpm: k.freqPpm,
    maxErrorUs: k.maxErrorUs,
    estErrorUs: k.estErrorUs,
  };
}

/** The kernel clock's offset from the upstream (upstream − guest), ns: the least-delay of `count` queries. */
export async function errorToUpstreamNs(count = 8, server = UPSTREAM): Promise<{ offsetNs: number; delayNs: number }> {
  const [r] = await query([server], { count, intervalMs: 50 });
  if (!r?.best) throw new Error(`${server} did not answer: ${r?.error}`);
  return { offsetNs: Number(r.best.offsetNs), delayNs: r.best.delayNs };
}

export function nowIso(): string {
  return new Date(Number(realtimeNs() / 1_000_000n)).toISOString();
}

/** A command run to its end: exit code and output. */
export function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { env: { ...process.env, ...env } });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.on('close', (code) => resolve({ code, out }));
  });
}

/** Runs the CLI from this tree in the guest. */
export function cli(args: string[]): Promise<{ code: number | null; out: string }> {
  const [cmd, ...rest] = nodeArgv('src/cli/bin.ts', args);
  return run(cmd!, rest);
}

/** Moves the upstream's time by `ms` (test/kernel/refserver.ts listens on its port + 1). */
export async function jumpUpstream(ms: number): Promise<void> {
  const [host, port] = UPSTREAM.split(/:(?=\d+$)/);
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => sock.send(`jump ${ms}`, Number(port) + 1, host, (e) => (e ? reject(e) : resolve())));
  sock.close();
}

/** The `sample` lines of a daemon log (debug level): each accepted sample's offset, ns. */
export function sampleOffsetsNs(log: string): number[] {
  return log
    .split('\n')
    .filter((l) => /^DEBUG sample /.test(l))
    .map((l) => Number(/ offset_ns=(-?\d+)/.exec(l)?.[1]));
}

/** The result file the host test asserts on. */
export function writeResult(result: unknown): void {
  writeFileSync(
    path.join(DIR, 'result.json'),
    JSON.stringify(result, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2),
  );
}
