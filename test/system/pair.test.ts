// The smallest cluster, the one test:arm runs on each ARM Node under
// qemu-user: two daemons on loopback, both booted at 1970 on virtual clocks.
// Priority 0 must serve, priority 1 must follow it within 1 ms, and the
// client must answer NTP at the server's stratum + 1.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { UdpEndpoint } from '../../src/native/udp.js';
import { query } from '../../src/tools/query.js';
import { converged, DaemonProc, waitStatuses } from '../helpers/daemon.js';

const addr = (i: number) => `127.77.1.${11 + i}`;
const CLUSTER_PORT = 12392;
const NTP_PORT = 11192;

/** Whether this kernel gives TX stamps (qemu-user does not): without them a server cannot answer interleaved. */
const txStampsHere = (() => {
  const probe = new UdpEndpoint({ address: '127.0.0.1' });
  const yes = probe.txStamps;
  probe.close();
  return yes;
})();

test('two daemons from 1970: priority 0 serves, priority 1 follows within 1 ms and serves at stratum + 1', async () => {
  const base = mkdtempSync(path.join(tmpdir(), 'ct-pair-'));
  const peers = [0, 1].map((i) => `${addr(i)}:${CLUSTER_PORT}`);
  const nodes = ['p0', 'p1'].map((id, i) =>
    DaemonProc.write(path.join(base, id), {
      id,
      priority: i,
      address: addr(i),
      ntpPort: NTP_PORT,
      clusterPort: CLUSTER_PORT,
      peers,
      start: '1970-01-01T00:00:00Z',
    }),
  );
  try {
    for (const n of nodes) n.start();
    // Generous: under qemu-user every daemon is an emulated Node.
    const [s0, s1] = await waitStatuses(nodes, 'p0 to serve and p1 to follow within 1 ms', converged('p0', ['p0', 'p1']), 60_000, 250);
    assert.is(s0!.role, 'server');
    assert.is(s1!.leader!.address, addr(0));
    // p1 follows p0 in interleaved mode ([cluster] interleaved, on by default) where the kernel gives TX stamps.
    const xleave = (await waitStatuses([nodes[1]!], 'interleaved samples', (ss) => (ss[0]?.source?.interleaved ?? 0) > 0 || !txStampsHere, 20_000, 250))[0]!;
    if (txStampsHere) assert.ok(xleave.source!.interleaved > 0, JSON.stringify(xleave.source));
    const [r] = await query([`${addr(1)}:${NTP_PORT}`], { count: 2, timeoutMs: 5000 });
    assert.ok(r!.ok && r!.best, `query p1: ${r!.error}`);
    assert.is(r!.best!.stratum, s0!.stratum + 1);
  } finally {
    for (const n of nodes) await n.stop();
    rmSync(base, { recursive: true, force: true });
  }
});

test.run();
