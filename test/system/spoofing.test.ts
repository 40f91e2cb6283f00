// Off-path and replaying attackers against a real daemon's client. The
// daemon (started at 1970) follows an upstream the test plays: honest
// answers at the system time, each surrounded by forgeries that claim a time
// one hour ahead — a reply with a guessed origin sent before the real one,
// the real reply duplicated, an old real reply replayed, and the right
// origin from an address the daemon never asked. The daemon must take the
// honest time only, and count each forgery under its reason.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { decodePacket, encodePacket, type NtpPacket } from '../../src/ntp/packet.js';
import { unixNsToNtp64 } from '../../src/ntp/time.js';
import { buildResponse, type ServerState } from '../../src/ntp/wire.js';
import { realtimeNs } from '../../src/native/clock.js';
import { UdpEndpoint } from '../../src/native/udp.js';
import { DaemonProc, waitStatuses } from '../helpers/daemon.js';

const HOUR_NS = 3_600_000_000_000n;
const STATE: ServerState = { leap: 0, stratum: 2, precisionLog2: -20, refId: 0x47505300, referenceNs: 0n, rootDelayNs: 1_000_000, rootDispersionNs: 500_000 };

test('forged, duplicated, replayed and stray replies are rejected and counted; the client keeps the honest time', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ct-spoof-'));
  const attacker = new UdpEndpoint({ address: '127.77.5.10' });
  const old: Uint8Array[] = [];
  let answered = 0;
  // The upstream's socket doubles as the spoofed source address: an off-path
  // attacker who can forge the server's address but cannot see the request.
  const upstream: UdpEndpoint = new UdpEndpoint(
    { address: '127.77.5.9', port: 11195 },
    {
      onBatch: (b) => {
        for (let i = 0; i < b.count; i++) {
          const d = decodePacket(b.data(i));
          if (!d.ok || d.packet.mode !== 3) continue;
          const to = b.peer(i);
          const now = realtimeNs();
          const state = { ...STATE, referenceNs: now - 1_000_000_000n };
          const honest = encodePacket(buildResponse(d.packet, b.rxNs(i), realtimeNs(), state)!);
          // Before the real reply: the right shape, one hour ahead, an origin guessed wrong.
          const guessed: NtpPacket = {
            ...(decodePacket(honest) as { packet: NtpPacket }).packet,
            originTs: d.packet.transmitTs ^ 0xffffn,
            receiveTs: unixNsToNtp64(now + HOUR_NS),
            transmitTs: unixNsToNtp64(now + HOUR_NS),
          };
          upstream.send(encodePacket(guessed), to.port, to.address);
          upstream.send(honest, to.port, to.address);
          upstream.send(honest, to.port, to.address); // duplicated
          if (old.length > 0) upstream.send(old[0]!, to.port, to.address); // replayed: an earlier good reply
          // The right origin (as if sniffed) and an hour ahead, from an address nobody asked.
          const stray: NtpPacket = { ...guessed, originTs: d.packet.transmitTs };
          attacker.send(encodePacket(stray), to.port, to.address);
          old.push(honest);
          answered++;
        }
      },
    },
  );
  const n = DaemonProc.write(dir, {
    id: 'victim',
    priority: 0,
    address: '127.77.5.1',
    ntpPort: 11195,
    clusterPort: 12395,
    peers: [],
    start: '1970-01-01T00:00:00Z',
    extra: '[upstream]\nservers = [{ address = "127.77.5.9:11195", minpoll = 0, maxpoll = 0, iburst = true }]',
  }).start();
  try {
    const [s] = await waitStatuses(
      [n],
      'eight honest answers taken',
      (ss) => (ss[0]?.sources.find((x) => x.address === '127.77.5.9:11195')?.accepted ?? 0) >= 8,
      30_000,
    );
    const src = s!.sources.find((x) => x.address === '127.77.5.9:11195')!;
    const offsetNs = BigInt(s!.clock.offset_from_system_ns);
    assert.ok(
      offsetNs < 5_000_000n && offsetNs > -5_000_000n,
      `node time follows the honest upstream (offset from system ${offsetNs} ns), not the forgeries' +1 h`,
    );
    assert.ok(s!.synced);
    // Every honest answer came with one guessed-origin forgery and one duplicate; all but the first with a replay.
    assert.ok((src.rejects['test1-duplicate'] ?? 0) >= src.accepted - 1, `duplicates counted: ${JSON.stringify(src.rejects)}`);
    assert.ok((src.rejects['test2-bogus'] ?? 0) >= src.accepted, `wrong-origin forgeries and replays counted: ${JSON.stringify(src.rejects)}`);
    assert.ok(s!.ntp.stray_replies >= src.accepted - 1, `stray replies counted: ${s!.ntp.stray_replies}`);
    assert.is(src.accepted + src.rejected <= answered * 4, true, 'nothing counted twice');
  } finally {
    await n.stop();
    upstream.close();
    attacker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
