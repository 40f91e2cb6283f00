// Election timing with real daemons (issue 7): N boards (4, 8, 16), each a
// clocktower daemon in its own network namespace on a bridged LAN, all at the
// factory date, launched together. Measures boot -> one server, boot -> all
// synchronised within 1 ms, kill -9 of the server -> a new server with every
// board following, and election messages per board per second (sent, from
// the daemons' own counters). Times are given from the launch and from the
// moment the last daemon was up (its uptime), which leaves out Node's start.
//   sh scripts/no-sys-time.sh node --import tsx bench/election-netns.ts [--sizes 4,8,16]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import type { Status } from '../src/daemon/status.js';
import { DaemonProc } from '../test/helpers/daemon.js';
import { createLan } from '../test/helpers/lan.js';
import { canUseNetns } from '../test/helpers/netns.js';

const args = process.argv.slice(2);
const sizesAt = args.indexOf('--sizes');
const SIZES = sizesAt >= 0 ? args[sizesAt + 1]!.split(',').map(Number) : [4, 8, 16];
const POLL_MS = 50;

async function poll(nodes: DaemonProc[], cond: (ss: (Status | null)[]) => boolean, limitMs: number): Promise<{ at: number; ss: (Status | null)[] } | null> {
  const end = Date.now() + limitMs;
  while (Date.now() < end) {
    const ss = await Promise.all(nodes.map((n) => n.status()));
    if (cond(ss)) return { at: Date.now(), ss };
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return null;
}

const oneServer = (ss: (Status | null)[]) => {
  const up = ss.filter((s): s is Status => s !== null);
  const servers = up.filter((s) => s.role === 'server');
  return up.length === ss.length && servers.length === 1 && up.every((s) => s.leader?.id === servers[0]!.id);
};
const allSynced = (ss: (Status | null)[]) => {
  if (!oneServer(ss)) return false;
  const up = ss as Status[];
  const server = up.find((s) => s.role === 'server')!;
  const off = BigInt(server.clock.offset_from_system_ns);
  return up.every((s) => s === server || (s.synced && (BigInt(s.clock.offset_from_system_ns) - off) ** 2n < 1_000_000_000_000n));
};

/** Frames the kernel dropped because a CPU's input backlog was full (net.core.netdev_max_backlog), all CPUs. */
function backlogDrops(): number {
  return readFileSync('/proc/net/softnet_stat', 'utf8')
    .trim()
    .split('\n')
    .reduce((sum, l) => sum + parseInt(l.split(/\s+/)[1]!, 16), 0);
}

async function run(n: number): Promise<string> {
  const lan = createLan('elt', n);
  const base = mkdtempSync(path.join(tmpdir(), 'ct-elt-'));
  // On Ctrl-C test/helpers/netns.ts removes the namespaces and calls process.exit, which runs only 'exit' handlers.
  const removeBase = () => rmSync(base, { recursive: true, force: true });
  process.once('exit', removeBase);
  const peers = lan.hosts.map((h) => `${h.address}:12300`);
  const nodes = lan.hosts.map((h, i) =>
    DaemonProc.write(path.join(base, `n${i}`), {
      id: `n${i}`,
      priority: i,
      address: h.address,
      ntpPort: 123,
      clusterPort: 12300,
      peers,
      start: '1970-01-01T00:00:00Z',
      netns: h.name,
    }),
  );
  try {
    const bootDrops = backlogDrops();
    const launch = Date.now();
    for (const x of nodes) x.start();
    const one = await poll(nodes, oneServer, 60_000);
    const synced = await poll(nodes, allSynced, 60_000);
    if (!one || !synced) {
      // What each board says, to see where it stuck: role, leader, synchronised.
      const ss = await Promise.all(nodes.map((x) => x.status()));
      // A client's offset from the server's clock is shown where it is over 1 ms.
      const server = ss.find((s) => s?.role === 'server');
      const off = (s: Status) => (server ? Number(BigInt(s.clock.offset_from_system_ns) - BigInt(server.clock.offset_from_system_ns)) / 1e6 : 0);
      const seen = ss
        .map((s, i) =>
          s
            ? `n${i}:${s.role}${s.leader ? `->${s.leader.id}` : ''}${s.role === 'server' || s.synced ? '' : '(unsynced)'}${s.role !== 'server' && Math.abs(off(s)) > 1 ? `(${off(s).toFixed(1)} ms)` : ''}`
            : `n${i}:down`,
        )
        .join(' ');
      return `${String(n).padStart(5)}  did not converge within 60 s (one server: ${one ? 'yes' : 'no'}); ${seen}`;
    }
    // The last daemon up: its uptime at the poll says when it started.
    const lastUp = Math.max(...synced.ss.map((s) => synced.at - s!.uptime_s * 1000));
    // Messages sent per board per second over a settled 5 s window.
    const before = await Promise.all(nodes.map((x) => x.status()));
    await new Promise((r) => setTimeout(r, 5000));
    const after = await Promise.all(nodes.map((x) => x.status()));
    const sent = (s: Status | null) => (s ? s.election.counters['sentQuery']! + s.election.counters['sentStatus']! + s.election.counters['sentLeaving']! : 0);
    const perNode = after.reduce((sum, s, i) => sum + sent(s) - sent(before[i]!), 0) / n / (after[0]!.uptime_s - before[0]!.uptime_s || 5);
    // Power off the server.
    const serverIdx = after.findIndex((s) => s?.role === 'server');
    const dropsBefore = backlogDrops();
    const killedAt = Date.now();
    if (process.env.CT_LOG_TIME) console.log(`  killed at ${new Date(killedAt).toISOString()}`);
    nodes[serverIdx]!.kill('SIGKILL');
    const rest = nodes.filter((_, i) => i !== serverIdx);
    let failover = await poll(rest, oneServer, 3_000);
    if (!failover) {
      // Over the bound: while it lasts, what the boards that do not follow yet know and count, whether the
      // kernel lost frames (a full input backlog), and whether any datagram went between them and the server.
      const ss = await Promise.all(rest.map((x) => x.status()));
      const server = ss.find((s) => s?.role === 'server');
      console.log(`  3 s after the kill: ${backlogDrops() - dropsBefore} frames dropped at a full input backlog (/proc/net/softnet_stat)`);
      if (server) console.log(`  server ${server.id}: ${server.peers.filter((p) => p.live).length} live peers of ${server.peers.length}`);
      for (const [i, s] of ss.entries()) {
        if (!s || s.role === 'server' || s.leader?.id === server?.id) continue;
        const c = s.election.counters;
        const ns = rest[i]!.netns!;
        const neigh = server
          ? execFileSync('ip', ['-n', ns, 'neigh', 'show', lan.hosts[Number(server.id.slice(1))]!.address])
              .toString()
              .trim()
          : '';
        console.log(
          `  ${s.id}: ${s.role}${s.leader ? `->${s.leader.id}` : ''} recv=${c['received']} sentQuery=${c['sentQuery']} sentStatus=${c['sentStatus']} challenges=${c['challenges']} unverified=${c['unverified']} replay=${c['dropReplay']} malformed=${c['dropMalformed']} peers=${s.peers.map((p) => `${p.id}${p.live ? '' : '(dead)'}:${p.role}`).join(',')} | its ARP entry for the server: ${neigh || 'none (never resolved)'}`,
        );
      }
      failover = await poll(rest, oneServer, 27_000);
    }
    const followed = await poll(rest, allSynced, 30_000);
    console.log(`  frames dropped at a full input backlog: boot ${dropsBefore - bootDrops}, failover ${backlogDrops() - dropsBefore}`);
    const ms = (x: number | undefined) => (x === undefined ? '—' : `${Math.round(x)} ms`);
    if (!failover || failover.at - killedAt > 3000) {
      // Over the bound: each board's last election events (CT_LOG_TIME=1 stamps the daemons' log lines), to see who waited for whom.
      for (const x of rest) {
        const lines = x.output.split('\n').filter((l) => /role |leader |serve/.test(l));
        console.log(`  ${x.id}: ${lines.slice(-4).join(' | ')}`);
      }
      // Every board's whole log, to read a late board's story after the run.
      const logs = mkdtempSync(path.join(tmpdir(), 'ct-elt-logs-'));
      for (const x of nodes) writeFileSync(path.join(logs, `${x.id}.log`), x.output);
      console.log(`  the daemons' logs: ${logs}`);
    }
    return [
      String(n).padStart(5),
      `${ms(one.at - launch)} / ${ms(one.at - lastUp)}`.padStart(20),
      `${ms(synced.at - launch)} / ${ms(synced.at - lastUp)}`.padStart(20),
      ms(failover ? failover.at - killedAt : undefined).padStart(12),
      ms(followed ? followed.at - killedAt : undefined).padStart(14),
      perNode.toFixed(1).padStart(12),
      (perNode / n).toFixed(2).padStart(8),
    ].join(' ');
  } finally {
    for (const x of nodes) await x.stop(3000);
    lan.destroy();
    removeBase();
    process.off('exit', removeBase);
  }
}

if (!canUseNetns()) {
  console.log('election timing benchmark skipped: it needs root and ip netns');
  process.exit(1);
}
console.log(`election timing, real daemons in network namespaces (status polled every ${POLL_MS} ms; times: from launch / from the last daemon up)`);
console.log('nodes      boot→one server    boot→all ≤1 ms   crash→server  crash→all ≤1 ms  msgs/node/s     ÷ N');
for (const n of SIZES) console.log(await run(n));
