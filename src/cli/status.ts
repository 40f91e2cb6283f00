import { existsSync } from 'node:fs';

import { defaultConfig } from '../daemon/config.js';
import { controlRequest } from '../daemon/control.js';
import type { Status } from '../daemon/status.js';
import { parse, type Parsed } from './args.js';
import type { Command } from './main.js';
import { configFrom } from './config-file.js';

const usage = `usage: clocktower status [--socket PATH | --config FILE] [--json]

Asks a running node over its control socket what it is doing, like chronyc
tracking and sources together: role, leader, stratum, leap, clock mode and
offset from the system clock, frequency, the source and its last offset and
jitter, the time floor, the cluster peers and the NTP counters.

The socket is --socket, else the [control] socket of --config, else
$CLOCKTOWER_SOCKET, else the embedded default's (per-user) if it exists,
else /run/clocktower.sock.

Exit status: 0 when the node answered, 1 when it could not be reached.`;

export function defaultSocket(): string {
  const env = process.env['CLOCKTOWER_SOCKET'];
  if (env) return env;
  const user = defaultConfig().control.socket;
  return existsSync(user) ? user : '/run/clocktower.sock';
}

const ms = (ns: string | number | null): string => (ns === null ? '—' : `${(Number(ns) / 1e6).toFixed(3)} ms`);

export function formatStatus(s: Status): string {
  const lines = [
    `node          ${s.id} (priority ${s.priority}, pid ${s.pid}, up ${s.uptime_s.toFixed(0)} s)`,
    `role          ${s.role}`,
    `leader        ${s.leader ? `${s.leader.id} at ${s.leader.address}` : '—'}`,
    `stratum       ${s.stratum}   leap ${s.leap}   refid ${s.ref_id}   ${s.synced ? 'synchronised' : 'not synchronised'}`,
    `clock         ${s.clock.mode}, ${s.clock.node_time}, ${ms(s.clock.offset_from_system_ns)} from the system clock, ${s.clock.freq_ppm.toFixed(3)} ppm`,
    `time floor    ${s.floor_ns === '0' ? '—' : new Date(Number(BigInt(s.floor_ns) / 1_000_000n)).toISOString()}`,
    '',
    'sources       id               address                  reach poll  stratum  last offset    jitter  interleaved',
  ];
  for (const x of s.sources) {
    lines.push(
      `  ${x.selected ? '*' : ' '}           ${x.id.padEnd(16)} ${x.address.padEnd(24)} ${x.reach.toString(8).padStart(3, '0')}   ${String(x.poll_log2).padStart(3)}   ${String(x.stratum ?? '—').padStart(4)}     ${ms(x.last_offset_ns).padStart(12)}  ${ms(x.jitter_ns).padStart(10)}  ${String(x.interleaved).padStart(11)}`,
    );
  }
  if (s.sources.length === 0) lines.push('              (none)');
  lines.push('', 'peers         id               address                  role    priority stratum  last heard');
  for (const p of s.peers) {
    lines.push(
      `  ${p.live ? ' ' : 'x'}           ${p.id.padEnd(16)} ${p.address.padEnd(24)} ${p.role.padEnd(7)} ${String(p.priority).padStart(8)} ${String(p.stratum).padStart(7)}  ${(p.last_heard_ms / 1000).toFixed(1)} s ago`,
    );
  }
  if (s.peers.length === 0) lines.push('              (none heard)');
  lines.push('', `ntp           ${s.ntp.listen.map((l) => `${l.address}${l.bound ? '' : ' (not bound)'}`).join(', ')}`);
  lines.push(
    `              ${
      Object.entries(s.ntp.counters)
        .filter(([, v]) => v > 0)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'no requests yet'
    }`,
  );
  return lines.join('\n');
}

/** The control socket from --socket, --config or the defaults; null after printing a config error. */
export function socketFrom(p: Parsed): string | null {
  const socket = p.str('socket');
  if (socket) return socket;
  if (p.str('config')) {
    const cfg = configFrom(p.str('config'));
    return cfg ? cfg.control.socket : null;
  }
  return defaultSocket();
}

export const command: Command = {
  summary: "show a running node's role, leader, clock, sources and peers",
  usage,
  async run(args) {
    const p = parse(args, { socket: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' } });
    const socket = socketFrom(p);
    if (socket === null) return 2;
    try {
      const s = (await controlRequest(socket, { cmd: 'status' })) as Status;
      console.log(p.values.json ? JSON.stringify(s, null, 2) : formatStatus(s));
      return 0;
    } catch (e) {
      console.error(`clocktower status: ${(e as Error).message}`);
      return 1;
    }
  },
};
