// Broadcast and multicast over a real LAN of network namespaces (loopback
// has no multicast): cluster discovery through the multicast group with no
// peers listed, and NTP broadcast mode — a signed mode-5 server, a client
// that calibrates with a volley and then follows the broadcasts, and a
// client holding the wrong key that believes none of them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import type { Status } from '../../src/daemon/status.js';
import { DaemonProc, waitStatuses } from '../helpers/daemon.js';
import { createLan, LAN_PREFIX, type Lan } from '../helpers/lan.js';
import { canUseNetns } from '../helpers/netns.js';
import { testIf } from '../helpers/tools.js';

const useNetns = canUseNetns();
const t = testIf(useNetns, 'needs root and ip netns');
const FACTORY = '1970-01-01T00:00:00Z';

async function withLan(tag: string, n: number, body: (lan: Lan, base: string, nodes: DaemonProc[]) => Promise<void>): Promise<void> {
  const lan = createLan(tag, n);
  const base = mkdtempSync(path.join(tmpdir(), `ct-${tag}-`));
  const nodes: DaemonProc[] = [];
  try {
    await body(lan, base, nodes);
  } catch (e) {
    for (const x of nodes) console.error(`--- ${x.id} ---\n${x.output.split('\n').slice(-20).join('\n')}`);
    throw e;
  } finally {
    for (const x of nodes) await x.stop();
    lan.destroy();
    rmSync(base, { recursive: true, force: true });
  }
}

const offsetMs = (a: Status, b: Status) => Number(BigInt(a.clock.offset_from_system_ns) - BigInt(b.clock.offset_from_system_ns)) / 1e6;

t('cluster.multicast: three hosts with no peers listed find each other through the group and elect one server', async () => {
  await withLan('mcast', 3, async (lan, base, nodes) => {
    for (const h of lan.hosts) {
      nodes.push(
        DaemonProc.write(path.join(base, `n${h.index}`), {
          id: `n${h.index}`,
          priority: h.index - 1,
          address: h.address,
          // One node listens on the wildcard (joins on every interface), the others on their address (a group socket).
          clusterHost: h.index === 3 ? '0.0.0.0' : h.address,
          ntpPort: 123,
          clusterPort: 12300,
          peers: [],
          clusterExtra: ['multicast = true'],
          start: FACTORY,
          netns: h.name,
        }).start(),
      );
    }
    const ss = await waitStatuses(
      nodes,
      'n1 to serve and the others to follow it',
      (ss) => ss.every((s) => s && s.leader?.id === 'n1' && s.role === (s.id === 'n1' ? 'server' : 'client') && s.peers.length === 2),
      20_000,
    );
    for (const s of ss)
      assert.equal(
        s!.peers.map((p) => p.id).sort(),
        ['n1', 'n2', 'n3'].filter((x) => x !== s!.id),
        `${s!.id} learned both peers from the group`,
      );
    assert.is(ss[1]!.leader!.address, `${LAN_PREFIX}.1`);
    assert.match(nodes[2]!.output, /cluster multicast/);
  });
});

t('NTP broadcast: a signed mode-5 server; a client calibrates with a volley then listens; a wrong-key client believes nothing', async () => {
  await withLan('bcast', 3, async (lan, base, nodes) => {
    const keys = path.join(base, 'ntp.keys');
    const wrong = path.join(base, 'wrong.keys');
    writeFileSync(keys, '7 SHA1 HEX:00112233445566778899aabbccddeeff00112233\n');
    writeFileSync(wrong, '7 SHA1 HEX:ffeeddccbbaa99887766554433221100ffeeddcc\n');
    const spec = (i: number, ntpExtra: string[], start: string | null) => ({
      id: ['server', 'listener', 'wrongkey'][i - 1]!,
      priority: 0,
      address: `${LAN_PREFIX}.${i}`,
      ntpHost: '0.0.0.0',
      ntpPort: 123,
      clusterPort: 12300 + i, // three separate one-node clusters: broadcast is the only link
      peers: [],
      ntpExtra,
      start,
      trusted: i === 1,
      netns: lan.hosts[i - 1]!.name,
    });
    nodes.push(
      DaemonProc.write(
        path.join(base, 's'),
        spec(1, [`keys = "${keys}"`, `broadcast = { address = "${LAN_PREFIX}.255:123", interval = "1s", key = 7 }`], null),
      ).start(),
      DaemonProc.write(path.join(base, 'l'), spec(2, [`keys = "${keys}"`, 'broadcast_client = true', 'require_auth = true'], FACTORY)).start(),
      DaemonProc.write(path.join(base, 'w'), spec(3, [`keys = "${wrong}"`, 'broadcast_client = true', 'require_auth = true'], FACTORY)).start(),
    );
    const [srv, lis] = nodes as [DaemonProc, DaemonProc, DaemonProc];
    const bsrc = `broadcast:${LAN_PREFIX}.1:123`;
    // Listening, and several broadcasts taken as samples after the volley.
    const ss = await waitStatuses(
      nodes,
      'the listener to follow the broadcasts',
      (ss) => {
        const src = ss[1]?.sources.find((x) => x.id === bsrc);
        return !!src && src.broadcast === 'listening' && src.selected && (ss[1]!.ntp.broadcast_client?.accepted ?? 0) >= 3 && ss[1]!.synced;
      },
      30_000,
      200,
    );
    const [s, l, w] = ss as [Status, Status, Status];
    assert.is(s.ntp.broadcast!.to, `${LAN_PREFIX}.255:123`);
    assert.ok(s.ntp.broadcast!.sent >= 3, `server sent ${s.ntp.broadcast!.sent}`);
    const src = l.sources.find((x) => x.id === bsrc)!;
    assert.ok(src.delay_ns > 0 && src.delay_ns < 5e6, `volley measured a LAN round trip: ${src.delay_ns} ns`);
    assert.is(l.stratum, s.stratum + 1);
    assert.ok(Math.abs(offsetMs(l, s)) < 1, `listener within 1 ms of the server: ${offsetMs(l, s)} ms`);
    // The server answered exactly the volley (and nothing more) from the listener: broadcasts carry the rest.
    const answered = s.ntp.counters['answered']!;
    await new Promise((r) => setTimeout(r, 2500));
    const later = (await srv.status())!;
    const l2 = (await lis.status())!;
    assert.ok(l2.ntp.broadcast_client!.accepted > l.ntp.broadcast_client!.accepted, 'broadcasts keep coming');
    assert.ok(later.ntp.counters['answered']! - answered <= 1, `no polling after the volley (${later.ntp.counters['answered']! - answered} answers in 2.5 s)`);
    // Wrong key: every broadcast refused, no source, the 1970 clock untouched.
    assert.ok(w.ntp.broadcast_client!.rejected >= 3, `wrong-key client rejected ${w.ntp.broadcast_client!.rejected}`);
    assert.is(w.ntp.broadcast_client!.accepted, 0);
    assert.not.ok(
      w.sources.some((x) => x.broadcast !== null),
      'no broadcast source mobilized',
    );
    assert.ok(BigInt(w.clock.offset_from_system_ns) < -1_000_000_000_000_000n, 'still at the factory date');
  });
});

test.run();
