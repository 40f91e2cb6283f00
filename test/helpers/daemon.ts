// Real clocktower daemons for system tests: each its own process, config,
// state dir and control socket, on loopback addresses. Stopped by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { controlRequest } from '../../src/daemon/control.js';
import type { Status } from '../../src/daemon/status.js';
import { root } from './cli.js';
import { nodeArgv } from './node.js';
import { waitFor } from './wait.js';

export interface NodeSpec {
  id: string;
  priority: number;
  address: string;
  ntpPort: number;
  clusterPort: number;
  peers: string[];
  /** Virtual clock start; null: the system time. */
  start: string | null;
  trusted?: boolean;
  /** Listen addresses when they differ from `address` (a wildcard, say). */
  ntpHost?: string;
  clusterHost?: string;
  /** Lines added to the [ntp] and [cluster] tables. */
  ntpExtra?: string[];
  clusterExtra?: string[];
  stateExtra?: string[];
  /** Run inside this network namespace (test/helpers/lan.ts). */
  netns?: string;
  extra?: string;
}

export function nodeConfig(dir: string, s: NodeSpec): string {
  return [
    '[node]',
    `id = "${s.id}"`,
    `priority = ${s.priority}`,
    '[ntp]',
    `listen = ["${s.ntpHost ?? s.address}:${s.ntpPort}"]`,
    ...(s.ntpExtra ?? []),
    '[cluster]',
    `listen = "${s.clusterHost ?? s.address}:${s.clusterPort}"`,
    `peers = [${s.peers.map((p) => `"${p}"`).join(', ')}]`,
    ...(s.clusterExtra ?? []),
    '[clock]',
    'mode = "virtual"',
    ...(s.start ? [`start = "${s.start}"`] : []),
    ...(s.trusted ? ['trusted = true'] : []),
    '[state]',
    `dir = "${dir}"`,
    ...(s.stateExtra ?? []),
    '[control]',
    `socket = "${path.join(dir, 'ctl.sock')}"`,
    '[log]',
    'level = "debug"',
    s.extra ?? '',
  ].join('\n');
}

export class DaemonProc {
  readonly socket: string;
  child!: ChildProcess;
  output = '';
  exitCode: number | null | undefined = undefined;
  /** A command the daemon runs under, which must exec it (so the child's PID is the daemon's). */
  wrap: string[] = [];

  constructor(
    readonly id: string,
    readonly dir: string,
    /** null: the embedded default (state under XDG_STATE_HOME = dir). */
    readonly config: string | null,
    readonly netns: string | null = null,
  ) {
    this.socket = config === null ? path.join(dir, 'clocktower', 'clocktower.sock') : path.join(dir, 'ctl.sock');
  }

  static write(dir: string, spec: NodeSpec): DaemonProc {
    mkdirSync(dir, { recursive: true });
    const config = path.join(dir, 'clocktower.toml');
    writeFileSync(config, nodeConfig(dir, spec));
    return new DaemonProc(spec.id, dir, config, spec.netns ?? null);
  }

  start(): this {
    this.exitCode = undefined;
    const args = [...(this.config === null ? [] : ['--config', this.config]), ...(process.env.CT_LOG_TIME ? ['--log-time'] : [])];
    const env = this.config === null ? { ...process.env, XDG_STATE_HOME: this.dir } : process.env;
    const argv = nodeArgv('src/cli/bin.ts', ['run', ...args]);
    // `ip netns exec` execs the command: the child's PID is the daemon's.
    if (this.netns) argv.unshift('ip', 'netns', 'exec', this.netns);
    argv.unshift(...this.wrap);
    this.child = spawn(argv[0]!, argv.slice(1), { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d) => (this.output += d));
    this.child.stderr!.on('data', (d) => (this.output += d));
    this.child.on('exit', (code) => (this.exitCode = code));
    return this;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  async status(): Promise<Status | null> {
    if (!this.running) return null;
    try {
      return (await controlRequest(this.socket, { cmd: 'status' }, 1000)) as Status;
    } catch {
      return null;
    }
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  async stop(limitMs = 5000): Promise<number | null> {
    this.kill('SIGTERM');
    await waitFor(`${this.id} to exit`, () => !this.running, limitMs).catch(() => this.kill('SIGKILL'));
    await waitFor(`${this.id} to die`, () => !this.running, 2000).catch(() => undefined);
    return this.exitCode ?? null;
  }
}

/** One server, `serverId`; every other live node its synchronised client; offsets from the system clock within 1 ms of the server's. */
export function converged(serverId: string, live: string[]) {
  return (ss: (Status | null)[]): boolean => {
    const up = ss.filter((s): s is Status => s !== null && live.includes(s.id));
    if (up.length !== live.length) return false;
    const server = up.find((s) => s.id === serverId);
    if (!server || server.role !== 'server' || up.filter((s) => s.role === 'server').length !== 1) return false;
    const off = BigInt(server.clock.offset_from_system_ns);
    return up.every((s) => {
      const d = BigInt(s.clock.offset_from_system_ns) - off;
      return s.leader?.id === serverId && (s.id === serverId || (s.role === 'client' && s.synced)) && d < 1_000_000n && d > -1_000_000n;
    });
  };
}

/** Polls every node's status until `cond` holds for them (null: not answering). */
export async function waitStatuses(
  nodes: DaemonProc[],
  what: string,
  cond: (s: (Status | null)[]) => boolean,
  limitMs: number,
  everyMs = 100,
): Promise<(Status | null)[]> {
  const end = Date.now() + limitMs;
  let last: (Status | null)[] = [];
  for (;;) {
    last = await Promise.all(nodes.map((n) => n.status()));
    if (cond(last)) return last;
    if (Date.now() > end) {
      const brief = last
        .map((s, i) => (s ? `${s.id}:${s.role}->${s.leader?.id ?? '-'} off=${s.clock.offset_from_system_ns}` : `${nodes[i]!.id}:down`))
        .join(' ');
      throw new Error(`timed out after ${limitMs} ms waiting for ${what}; last: ${brief}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
