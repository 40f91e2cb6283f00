// Forged, replayed and unauthenticated election messages against two real
// daemons sharing a cluster key, then a flood of them while a client keeps
// asking the server for time. The test's socket is listed as a third peer,
// so it receives the daemons' real (signed) heartbeats to replay.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { decodeMessage, encodeMessage, Role, type ClusterKey, type ElectionMessage } from '../../src/election/wire.js';
import { UdpEndpoint } from '../../src/native/udp.js';
import { DaemonProc, waitStatuses } from '../helpers/daemon.js';

const SECRET = 'correct-horse-battery-staple-42';
const KEY: ClusterKey = { id: 7, secret: new TextEncoder().encode(SECRET) };
const WRONG: ClusterKey = { id: 7, secret: new TextEncoder().encode('not-the-cluster-secret-at-all-00') };
const EVE = '127.77.6.9:12394';

test('unsigned, wrongly signed and replayed election messages are dropped and counted; roles hold; a flood does not starve NTP', async () => {
  const base = mkdtempSync(path.join(tmpdir(), 'ct-election-abuse-'));
  const keyFile = path.join(base, 'cluster.keys');
  writeFileSync(keyFile, `7 SHA256 ${SECRET}\n`, { mode: 0o600 });
  const heard: { bytes: Uint8Array; msg: ElectionMessage }[] = [];
  const eve = new UdpEndpoint(
    { address: '127.77.6.9', port: 12394 },
    {
      onBatch: (b) => {
        for (let i = 0; i < b.count; i++) {
          const bytes = Uint8Array.from(b.data(i));
          const d = decodeMessage(bytes, KEY);
          if (d.ok) heard.push({ bytes, msg: d.msg });
        }
      },
    },
  );
  const common = { ntpPort: 11194, clusterPort: 12394, start: null, clusterExtra: [`key_file = "${keyFile}"`] };
  const a = DaemonProc.write(path.join(base, 'a'), { ...common, id: 'a', priority: 0, address: '127.77.6.1', peers: ['127.77.6.2:12394', EVE] }).start();
  const b = DaemonProc.write(path.join(base, 'b'), { ...common, id: 'b', priority: 1, address: '127.77.6.2', peers: ['127.77.6.1:12394', EVE] }).start();
  const ntpAnswers: number[] = [];
  const ntpClient = new UdpEndpoint(
    { address: '127.0.0.1' },
    {
      onBatch: (bt) => {
        for (let i = 0; i < bt.count; i++) ntpAnswers.push(bt.data(i)[1]!);
      },
    },
  );
  try {
    await waitStatuses([a, b], 'a serves, b follows', (ss) => ss[0]?.role === 'server' && ss[1]?.role === 'client' && ss[1].leader?.id === 'a', 20_000);
    // a never hears back from eve, so what eve gets are a's signed queries.
    const fromA = heard.filter((h) => h.msg.id === 'a');
    assert.ok(fromA.length > 0, `a speaks to every listed peer, eve included (heard ${heard.length})`);
    const real = fromA.at(-1)!;
    // A usurper: a server with a better stratum than a's, priority 0.
    const usurper: ElectionMessage = { ...real.msg, id: 'mallory', priority: 0, stratum: 1, role: Role.Server, seq: real.msg.seq + 1000n, leader: null };
    const to = [
      { port: 12394, host: '127.77.6.1' },
      { port: 12394, host: '127.77.6.2' },
    ];
    for (let i = 0; i < 5; i++) {
      for (const t of to) {
        eve.send(encodeMessage(usurper), t.port, t.host); // no MAC
        eve.send(encodeMessage({ ...usurper, seq: usurper.seq + BigInt(i) }, WRONG), t.port, t.host); // wrong key
        eve.send(encodeMessage({ ...real.msg, role: Role.None, seq: real.msg.seq + 50n + BigInt(i) }, WRONG), t.port, t.host); // a's word, altered, re-signed with a guess
      }
      // a's real (signed) query, replayed to b five times. The first copy may be newer than
      // anything a sent b (an authentic word, late): taken once. The copies are replays.
      eve.send(real.bytes, 12394, '127.77.6.2');
    }
    const [sa, sb] = await waitStatuses(
      [a, b],
      'the forgeries counted',
      (ss) =>
        (ss[1]?.election.counters.dropReplay ?? 0) >= 4 && (ss[0]?.election.counters.dropBadMac ?? 0) >= 10 && (ss[1]?.election.counters.dropBadMac ?? 0) >= 10,
      5000,
    );
    for (const s of [sa!, sb!]) {
      assert.ok(s.election.counters.dropUnauthenticated! >= 5, `${s.id} unauthenticated: ${JSON.stringify(s.election.counters)}`);
      assert.ok(!s.peers.some((p) => p.id === 'mallory'), `${s.id} never lists the usurper`);
    }
    assert.is(sa!.role, 'server');
    assert.is(sb!.role, 'client');
    assert.is(sb!.leader?.id, 'a');

    // A flood of unsigned claims (bounded: 2 s, at most 40 000) while a client asks a for time every 10 ms.
    const req = new Uint8Array(48);
    req[0] = 0x23;
    const flood = encodeMessage(usurper);
    const endAt = Date.now() + 2000;
    let sent = 0;
    let asked = 0;
    while (Date.now() < endAt && sent < 40_000) {
      for (let k = 0; k < 200; k++) eve.send(flood, 12394, '127.77.6.1');
      sent += 200;
      ntpClient.send(req, 11194, '127.77.6.1');
      asked++;
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 300));
    const [fa, fb] = await waitStatuses([a, b], 'statuses after the flood', (ss) => ss.every((s) => s !== null), 5000);
    assert.ok(ntpAnswers.length >= asked * 0.95, `NTP answered ${ntpAnswers.length} of ${asked} during a flood of ${sent} election messages`);
    assert.ok(
      ntpAnswers.every((st) => st > 0 && st < 16),
      'answers from a synchronised server',
    );
    assert.ok(
      fa!.election.counters.dropUnauthenticated! >= sa!.election.counters.dropUnauthenticated! + sent * 0.5,
      `flood counted: ${fa!.election.counters.dropUnauthenticated}`,
    );
    assert.is(fa!.role, 'server');
    assert.is(fb!.role, 'client');
    assert.is(fb!.leader?.id, 'a');
  } finally {
    await a.stop();
    await b.stop();
    eve.close();
    ntpClient.close();
    rmSync(base, { recursive: true, force: true });
  }
});

test.run();
