// `clocktower demo`: the seed's story, live, with four real daemons on
// loopback. Each node is its own `clocktower run` process with its own
// config; the demo prints their role changes as they happen and reads their
// status over the control sockets for the tables.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { controlRequest } from '../daemon/control.js';
import type { Status } from '../daemon/status.js';
import { UdpEndpoint } from '../native/udp.js';
import { intOption, parse } from './args.js';
import type { Command } from './main.js';

const usage = `usage: clocktower demo [--base-ip N]

Four clocktower nodes A-D (priorities 0-3) on 127.0.0.N+1..N+4, each its own
process with a virtual clock (the machine's clock is never touched):

  1. A, B, C boot at a factory date (2001-01-01); D's clock is operator-
     trusted and right. A's and C's NTP ports are taken by another program.
     D serves (a trusted clock outranks priority); A, B and C step to it.
  2. D is killed (SIGKILL). A, the best of the rest, cannot serve (its port
     is taken): after three attempts it defers and B takes over, as in the
     seed's story. Everyone follows B.
  3. The ports are freed and D comes back: it joins B as a client (no
     preemption).

Role changes are printed as they happen; a table after each act shows node,
role, leader and offset from the server. Takes about 15 s.

options:
  --base-ip N   last octet before the nodes' addresses (default 100: 127.0.0.101-104)`;

const FACTORY = '2001-01-01T00:00:00Z';
const NTP_PORT = 11123;
const CLUSTER_PORT = 12300;

interface DemoNode {
  name: string;
  address: string;
  dir: string;
  config: string;
  socket: string;
  child: ChildProcess | null;
}

export const command: Command = {
  summary: "the seed's story live: four nodes elect a server, fail over, rejoin",
  usage,
  async run(args) {
    const p = parse(args, { 'base-ip': { type: 'string' } });
    const base = intOption('base-ip', p.str('base-ip'), 100, 1, 250);
    const root = mkdtempSync(path.join(tmpdir(), 'clocktower-demo-'));
    const t0 = Date.now();
    const stamp = () => `[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s]`;
    const nodes: DemoNode[] = ['A', 'B', 'C', 'D'].map((name, i) => {
      const address = `127.0.0.${base + i + 1}`;
      const dir = path.join(root, name);
      mkdirSync(dir);
      const socket = path.join(dir, 'ctl.sock');
      const config = path.join(dir, 'clocktower.toml');
      writeFileSync(
        config,
        [
          `[node]\nid = "${name}"\npriority = ${i}`,
          `[ntp]\nlisten = ["${address}:${NTP_PORT}"]`,
          `[cluster]\nlisten = "${address}:${CLUSTER_PORT}"\npeers = [${[0, 1, 2, 3].map((j) => `"127.0.0.${base + j + 1}"`).join(', ')}]`,
          `[clock]\nmode = "virtual"\n${name === 'D' ? 'trusted = true' : `start = "${FACTORY}"`}`,
          `[state]\ndir = "${dir}"`,
          `[control]\nsocket = "${socket}"`,
        ].join('\n') + '\n',
      );
      return { name, address, dir, config, socket, child: null };
    });
    const say = (line: string) => console.log(`${stamp()} ${line}`);

    const start = (n: DemoNode) => {
      // The same CLI this demo runs from (compiled or from source).
      const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, 'run', '--config', n.config], { stdio: ['ignore', 'ignore', 'pipe'] });
      n.child = child;
      let buf = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const m = /^(?:INFO|WARN|ERROR)\s+(role .*|clock step.*|could not start serving.*|cannot serve NTP.*|.*another clocktower.*)$/.exec(line);
          if (m) say(`${n.name}  ${m[1]}`);
          else if (/^clocktower: /.test(line)) say(`${n.name}  ${line}`);
        }
      });
      child.on('exit', (code, sig) => {
        if (n.child === child) n.child = null;
        if (code !== 0 && sig !== 'SIGKILL') say(`${n.name}  exited (${sig ?? code})`);
      });
    };
    const status = async (n: DemoNode): Promise<Status | null> => {
      if (!n.child) return null;
      try {
        return (await controlRequest(n.socket, { cmd: 'status' }, 1000)) as Status;
      } catch {
        return null;
      }
    };
    const settled = async (serverName: string, limitMs: number): Promise<boolean> => {
      const end = Date.now() + limitMs;
      while (Date.now() < end) {
        const ss = (await Promise.all(nodes.map(status))).filter((s): s is Status => s !== null);
        const server = ss.find((s) => s.role === 'server');
        const offOf = (s: Status) => BigInt(s.clock.offset_from_system_ns);
        if (
          server?.id === serverName &&
          ss.every((s) => s.leader?.id === serverName && (s === server || (s.synced && Math.abs(Number(offOf(s) - offOf(server))) < 1e6)))
        )
          return true;
        await new Promise((r) => setTimeout(r, 250));
      }
      return false;
    };
    const table = async (title: string) => {
      const ss = await Promise.all(nodes.map(status));
      const server = ss.find((s) => s?.role === 'server');
      console.log(`\n${title}\n  node  role     leader  stratum  clock (UTC)                offset from server`);
      nodes.forEach((n, i) => {
        const s = ss[i];
        if (!s) return console.log(`  ${n.name}     down`);
        const off = server ? `${(Number(BigInt(s.clock.offset_from_system_ns) - BigInt(server.clock.offset_from_system_ns)) / 1e6).toFixed(3)} ms` : '—';
        console.log(
          `  ${n.name}     ${s.role.padEnd(8)} ${(s.leader?.id ?? '—').padEnd(7)} ${String(s.stratum).padStart(7)}  ${s.clock.node_time.padEnd(26)} ${off.padStart(12)}`,
        );
      });
      console.log('');
    };

    // Another program holds A's and C's NTP ports: they can sync but not serve.
    const blockers = [nodes[0]!, nodes[2]!].map((n) => new UdpEndpoint({ address: n.address, port: NTP_PORT }));
    let ok = true;
    try {
      console.log(`clocktower demo: four nodes on 127.0.0.${base + 1}-${base + 4}, state in ${root}\n`);
      say(`act 1: A, B, C boot at ${FACTORY}; D is trusted; A's and C's NTP ports are taken`);
      for (const n of nodes) start(n);
      ok = (await settled('D', 20_000)) && ok;
      await table(ok ? 'act 1: D serves, everyone agrees' : 'act 1: NOT settled in 20 s');

      say('act 2: D is killed (SIGKILL)');
      nodes[3]!.child?.kill('SIGKILL');
      nodes[3]!.child = null;
      ok = (await settled('B', 25_000)) && ok;
      await table(ok ? 'act 2: A cannot serve, so B does; everyone follows B' : 'act 2: NOT settled in 25 s');

      say("act 3: A's and C's ports are freed; D comes back");
      for (const b of blockers) b.close();
      start(nodes[3]!);
      ok = (await settled('B', 20_000)) && ok;
      await new Promise((r) => setTimeout(r, 2000));
      ok = (await settled('B', 1000)) && ok;
      await table(ok ? 'act 3: D joins B as a client; no preemption' : 'act 3: NOT settled');
    } finally {
      for (const b of blockers) b.close();
      await Promise.all(
        nodes.map(async (n) => {
          const c = n.child;
          if (!c) return;
          c.kill('SIGTERM');
          await new Promise((r) => {
            const t = setTimeout(() => c.kill('SIGKILL'), 5000);
            c.on('exit', () => r(clearTimeout(t)));
          });
        }),
      );
      rmSync(root, { recursive: true, force: true });
    }
    console.log(ok ? 'demo finished: every act settled as the seed says' : 'demo finished: some act did not settle (see above)');
    return ok ? 0 : 1;
  },
};
