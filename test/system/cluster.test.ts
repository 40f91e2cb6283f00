// Five real daemons on loopback (issue 6's done-when): virtual clocks at 1970
// except D, priority 3, at the real time and operator-trusted. They must
// converge on D (docs/election.md: a reference outranks priority), agree
// within 1 ms, fail over to A within 3 s of kill -9, and take D back as a
// client (a trusted clock does not preempt a healthy server).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { converged, DaemonProc, waitStatuses } from '../helpers/daemon.js';

const IDS = ['a', 'b', 'c', 'd', 'e'];
const addr = (i: number) => `127.77.0.${11 + i}`;
const CLUSTER_PORT = 12391;
const NTP_PORT = 11191;

test('five daemons elect the documented server, agree within 1 ms, fail over in <= 3 s, and take the old server back as a client', async () => {
  const base = mkdtempSync(path.join(tmpdir(), 'ct-cluster-'));
  const peers = IDS.map((_, i) => `${addr(i)}:${CLUSTER_PORT}`);
  const nodes = IDS.map((id, i) =>
    DaemonProc.write(path.join(base, id), {
      id,
      priority: i,
      address: addr(i),
      ntpPort: NTP_PORT,
      clusterPort: CLUSTER_PORT,
      peers,
      start: id === 'd' ? null : '1970-01-01T00:00:00Z',
      trusted: id === 'd',
    }),
  );
  const [a, , , d] = nodes as [DaemonProc, DaemonProc, DaemonProc, DaemonProc, DaemonProc];
  try {
    for (const n of nodes) n.start();
    const first = await waitStatuses(nodes, 'D to serve and all to follow within 1 ms', converged('d', IDS), 30_000);
    const ds = first[3]!;
    assert.is(ds.stratum, 10);
    assert.is(ds.ref_id, '127.127.1.1');
    assert.ok(Math.abs(Number(BigInt(ds.clock.offset_from_system_ns))) < 1e6, 'D runs at the real time');
    for (const s of first) {
      assert.is(s!.clock.mode, 'virtual');
      // The server hears every node; a client its server (and whom it asked at boot: the sweep stops early).
      const ids = s!.peers.map((p) => p.id);
      if (s!.id === 'd') assert.equal(ids.sort(), ['a', 'b', 'c', 'e'], 'the server sees every peer');
      else assert.ok(ids.includes('d'), `${s!.id} sees its server`);
      if (s!.id !== 'd') {
        assert.is(s!.stratum, 11, `${s!.id} serves at the server's stratum + 1`);
        assert.is(s!.leader!.address, addr(3));
        assert.ok(/^\d+$/.test(s!.floor_ns));
      }
    }

    // kill -9 the server: a new one (A: synced, best priority) within 3 s.
    const killedAt = Date.now();
    d.kill('SIGKILL');
    await waitStatuses(
      nodes.filter((n) => n !== d),
      'a new server',
      (ss) => ss.filter((s) => s?.role === 'server').length === 1,
      3_000,
      50,
    );
    const failoverMs = Date.now() - killedAt;
    assert.ok(failoverMs <= 3000, `failover took ${failoverMs} ms`);
    const rest = IDS.filter((x) => x !== 'd');
    await waitStatuses(
      nodes.filter((n) => n !== d),
      'every client to follow A',
      converged('a', rest),
      6_000,
    );

    // The old server comes back: it joins as a client, A keeps serving.
    d.start();
    await waitStatuses(nodes, 'D to join A as a client', converged('a', IDS), 20_000);
    await new Promise((r) => setTimeout(r, 3000));
    const after = await Promise.all(nodes.map((n) => n.status()));
    assert.ok(converged('a', IDS)(after), 'no preemption 3 s later');

    // SIGTERM: clean exit, state saved, socket and lock gone.
    for (const n of nodes) assert.is(await n.stop(), 0, `${n.id} exits 0 on SIGTERM`);
    for (const n of nodes) {
      assert.ok(existsSync(path.join(n.dir, 'state.json')), `${n.id} saved its state`);
      assert.not.ok(existsSync(n.socket), `${n.id} removed its control socket`);
      assert.not.ok(existsSync(path.join(n.dir, 'clocktower.lock')), `${n.id} released its lock`);
    }
    assert.match(a.output, /role (client|none) -> server/);
  } catch (e) {
    for (const n of nodes) console.error(`--- ${n.id} ---\n${n.output.split('\n').slice(-15).join('\n')}`);
    throw e;
  } finally {
    for (const n of nodes) await n.stop();
    rmSync(base, { recursive: true, force: true });
  }
});

test.run();
