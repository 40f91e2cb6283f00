// The cluster across real hosts (issue 7): daemons in their own network
// namespaces on a bridged LAN (test/helpers/lan.ts), links cut and healed at
// the bridge. The seed's scenario (A-D, A and C cannot serve) with a server
// power-off; a partition of the server's link and its heal (two servers ->
// one, no clock stepped back); total power loss (every board restarts at the
// factory date and the cluster resumes at or above the saved floor); and a
// 16-board cluster converging.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { converged, DaemonProc, waitStatuses, type NodeSpec } from '../helpers/daemon.js';
import { createLan, type Lan } from '../helpers/lan.js';
import { canUseNetns } from '../helpers/netns.js';
import { testIf } from '../helpers/tools.js';

const useNetns = canUseNetns();
const t = testIf(useNetns, 'needs root and ip netns');
const FACTORY = '1970-01-01T00:00:00Z';
const NAMES = 'abcdefghijklmnop';

interface Cluster {
  lan: Lan;
  base: string;
  nodes: DaemonProc[];
  specs: NodeSpec[];
  blockers: ChildProcess[];
}

async function withCluster(tag: string, n: number, spec: (i: number) => Partial<NodeSpec>, body: (c: Cluster) => Promise<void>): Promise<void> {
  const lan = createLan(tag, n);
  const base = mkdtempSync(path.join(tmpdir(), `ct-${tag}-`));
  const peers = lan.hosts.map((h) => `${h.address}:12300`);
  const specs: NodeSpec[] = lan.hosts.map((h, i) => ({
    id: NAMES[i]!,
    priority: i,
    address: h.address,
    ntpPort: 123,
    clusterPort: 12300,
    peers,
    start: FACTORY,
    netns: h.name,
    stateExtra: ['save_interval = "1s"'],
    ...spec(i),
  }));
  const c: Cluster = { lan, base, nodes: [], specs, blockers: [] };
  try {
    await body(c);
  } catch (e) {
    for (const x of c.nodes) console.error(`--- ${x.id} ---\n${x.output.split('\n').slice(-25).join('\n')}`);
    throw e;
  } finally {
    for (const x of c.nodes) await x.stop(3000);
    for (const p of c.blockers) if (p.exitCode === null) p.kill('SIGKILL');
    lan.destroy();
    rmSync(base, { recursive: true, force: true });
  }
}

const start = (c: Cluster) => (c.nodes = c.specs.map((s) => DaemonProc.write(path.join(c.base, s.id), s).start()));

/** Takes `address`:123 in a host's namespace so the daemon there cannot serve (the seed's "cannot serve"). */
function blockNtpPort(c: Cluster, i: number): ChildProcess {
  const h = c.lan.hosts[i]!;
  const p = spawn(
    'ip',
    [
      'netns',
      'exec',
      h.name,
      'python3',
      '-c',
      'import socket,sys,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind((sys.argv[1],123))\nprint("bound",flush=True)\ntime.sleep(300)',
      h.address,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  c.blockers.push(p);
  return p;
}

const bound = (p: ChildProcess) => new Promise<void>((resolve) => p.stdout!.once('data', () => resolve()));

t('seed scenario over four hosts: A and C cannot serve, so B serves; B powered off -> D takes over and A, C follow', async () => {
  await withCluster(
    'seed',
    4,
    () => ({}),
    async (c) => {
      const blockers = [blockNtpPort(c, 0), blockNtpPort(c, 2)];
      await Promise.all(blockers.map(bound));
      const nodes = start(c);
      await waitStatuses(nodes, 'B to serve, A, C, D to follow it', converged('b', ['a', 'b', 'c', 'd']), 30_000);
      assert.match(nodes[0]!.output, /could not start serving NTP/);
      const t = Date.now();
      nodes[1]!.kill('SIGKILL');
      const rest = nodes.filter((_, i) => i !== 1);
      await waitStatuses(rest, 'D to serve and A, C to follow', converged('d', ['a', 'c', 'd']), 30_000);
      console.log(`    seed scenario: B killed -> D serving, A and C synced to it in ${Date.now() - t} ms`);
    },
  );
});

t("partition: the server's link cut -> the rest elect B; healed -> two servers meet, B steps down, nobody steps back", async () => {
  await withCluster(
    'part',
    4,
    () => ({}),
    async (c) => {
      const nodes = start(c);
      await waitStatuses(nodes, 'A to serve', converged('a', ['a', 'b', 'c', 'd']), 30_000);
      c.lan.cut(1);
      const t = Date.now();
      await waitStatuses(nodes.slice(1), 'B to serve the rest', converged('b', ['b', 'c', 'd']), 15_000);
      const cutMs = Date.now() - t;
      const a = (await nodes[0]!.status())!;
      assert.is(a.role, 'server', 'A, alone, keeps serving');
      await new Promise((r) => setTimeout(r, 1500));
      const marks = nodes.map((n) => n.output.length);
      c.lan.heal(1);
      const h = Date.now();
      await waitStatuses(nodes, 'one server again (A), everyone following', converged('a', ['a', 'b', 'c', 'd']), 20_000);
      console.log(`    partition: new server ${cutMs} ms after the cut; one server ${Date.now() - h} ms after the heal`);
      nodes.forEach((n, i) => {
        const after = n.output.slice(marks[i]);
        assert.not.match(after, /clock step offset_ms=-/, `${n.id} stepped back after the heal`);
      });
      assert.match(nodes[1]!.output.slice(marks[1]), /role server -> client/);
    },
  );
});

t('total power loss: every board killed and restarted at the factory date resumes at or above the saved floor', async () => {
  // D keeps the real time (trusted) in the first life; in the second nobody does.
  await withCluster(
    'power',
    4,
    (i) => (i === 3 ? { start: null, trusted: true } : {}),
    async (c) => {
      let nodes = start(c);
      await waitStatuses(nodes, 'D to serve real time to all', converged('d', ['a', 'b', 'c', 'd']), 30_000);
      await new Promise((r) => setTimeout(r, 2500)); // two save intervals
      for (const n of nodes) n.kill('SIGKILL');
      for (const n of nodes) await n.stop(3000);
      const floors = c.specs.map((s) => BigInt((JSON.parse(readFileSync(path.join(c.base, s.id, 'state.json'), 'utf8')) as { floor_ns: string }).floor_ns));
      const floor = floors.reduce((m, f) => (f > m ? f : m));
      assert.ok(floor > 1_700_000_000_000_000_000n, 'the floor saved is this decade');
      c.specs[3] = { ...c.specs[3]!, start: FACTORY, trusted: false };
      nodes = start(c);
      const ss = await waitStatuses(nodes, 'A to serve and all to follow', converged('a', ['a', 'b', 'c', 'd']), 30_000);
      for (const s of ss) {
        const nodeNs = BigInt(Date.parse(s!.clock.node_time)) * 1_000_000n;
        assert.ok(nodeNs >= floor - 1_000_000n, `${s!.id} at ${s!.clock.node_time}, floor ${new Date(Number(floor / 1_000_000n)).toISOString()}`);
      }
    },
  );
});

t('sixteen boards booted together converge on one server within 1 ms', async () => {
  await withCluster(
    's16',
    16,
    () => ({}),
    async (c) => {
      const t = Date.now();
      const nodes = start(c);
      await waitStatuses(nodes, 'A to serve sixteen', converged('a', [...NAMES]), 90_000, 250);
      console.log(`    16 boards: one server, all within 1 ms, ${Date.now() - t} ms after launch (process start-up included)`);
    },
  );
});

test.run();
