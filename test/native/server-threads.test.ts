// Server threads (SO_REUSEPORT): worker threads each own a socket on the
// main server's port. Clients from many source ports are spread by the
// kernel; every answer carries the state the main thread set; counters come
// back through shared memory; a reply (mode 4) reaching a worker still gets
// to the main thread's slow path.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { decodePacket, encodePacket, emptyPacket, type NtpPacket } from '../../src/ntp/packet.js';
import type { ServerState } from '../../src/ntp/wire.js';
import { realtimeNs } from '../../src/native/clock.js';
import { NtpServer } from '../../src/native/server.js';
import { ServerThreads } from '../../src/native/server-threads.js';
import { UdpEndpoint, type Datagram } from '../../src/native/udp.js';
import { waitFor } from '../helpers/wait.js';

const STATE: ServerState = { leap: 0, stratum: 4, precisionLog2: -20, refId: 0x7f000009, referenceNs: 0n, rootDelayNs: 1_000_000, rootDispersionNs: 500_000 };

function clients(n: number) {
  const got: Datagram[][] = [];
  const eps = Array.from({ length: n }, (_, i) => {
    got[i] = [];
    return new UdpEndpoint({ address: '127.0.0.1' }, { onBatch: (b) => { for (let j = 0; j < b.count; j++) got[i]!.push(b.copy(j)); } });
  });
  return { eps, got };
}

const request = (ts: bigint, over: Partial<NtpPacket> = {}) => encodePacket({ ...emptyPacket(), version: 4, mode: 3, poll: 4, transmitTs: ts, ...over });

test('threads share the port; answers from every thread carry the state set on the main thread; counters sum', async () => {
  const main = new NtpServer({ address: '127.0.0.1', reusePort: true });
  const port = main.address().port;
  const threads = new ServerThreads({ address: '127.0.0.1', port, threads: 2 });
  const { eps, got } = clients(48);
  try {
    await threads.ready;
    const sys = realtimeNs();
    const clock = { refSysNs: sys, refNodeNs: sys, freqPpm: 0 };
    main.setState(STATE, clock);
    threads.setState(STATE, clock);
    // Setters reach the workers as messages: flush waits until each has applied them.
    await threads.flush();
    const perRound = 5;
    for (let round = 0; round < perRound; round++) {
      eps.forEach((ep, i) => ep.send(request(BigInt(i * 100 + round + 1)), port, '127.0.0.1'));
      await waitFor(`round ${round}`, () => got.every((g) => g.length === round + 1));
    }
    for (const g of got) {
      for (const d of g) {
        const p = (decodePacket(d.data) as { packet: NtpPacket }).packet;
        assert.is(p.mode, 4);
        assert.is(p.stratum, 4);
        assert.is(p.refId, STATE.refId);
      }
    }
    const perThread = threads.answeredPerThread();
    const mainAnswered = main.counters().answered;
    const total = perThread.reduce((a, b) => a + b, 0n) + mainAnswered;
    assert.ok(total >= BigInt(48 * perRound), `answered ${total}`);
    // 48 source ports over 3 sockets: every socket gets some (chance of an empty one is ~3·(2/3)^48).
    assert.ok(perThread.every((n) => n > 0n) && mainAnswered > 0n, `spread: main ${mainAnswered}, threads ${perThread.join(',')}`);
    assert.is(threads.counters().answered, perThread[0]! + perThread[1]!);
  } finally {
    eps.forEach((e) => e.close());
    await threads.close();
    main.close();
  }
});

test('a datagram the workers do not answer reaches the main thread\'s slow path, with its stamp and peer', async () => {
  const main = new NtpServer({ address: '127.0.0.1', reusePort: true });
  const port = main.address().port;
  const slow: Datagram[] = [];
  const threads = new ServerThreads({ address: '127.0.0.1', port, threads: 2, onSlowPath: (b) => { for (let i = 0; i < b.count; i++) slow.push(b.copy(i)); } });
  const mainSlow: Datagram[] = [];
  // The main server's own slow path is a separate handler; count both.
  const { eps } = clients(24);
  try {
    await threads.ready;
    const before = realtimeNs();
    eps.forEach((ep, i) => ep.send(request(BigInt(i + 1), { mode: 4 }), port, '127.0.0.1'));
    await waitFor('mode-4 datagrams counted', () => threads.counters().slowPath + main.counters().slowPath === 24n);
    await waitFor('worker slow path delivered', () => slow.length === Number(threads.counters().slowPath));
    assert.ok(slow.length > 0, 'some landed on a worker');
    for (const d of slow) {
      assert.is(d.peer.address, '127.0.0.1');
      assert.ok(d.rxNs >= before && d.rxNs <= realtimeNs(), 'rx stamp in window');
      assert.is(d.data[0]! & 7, 4);
    }
    assert.is(mainSlow.length, 0);
  } finally {
    eps.forEach((e) => e.close());
    await threads.close();
    main.close();
  }
});

test('a thread that cannot bind rejects `ready` with the errno code; bad sizes are refused', async () => {
  const plain = new NtpServer({ address: '127.0.0.1' }); // no SO_REUSEPORT: nobody may share its port
  const threads = new ServerThreads({ address: '127.0.0.1', port: plain.address().port, threads: 1 });
  try {
    await threads.ready.then(
      () => assert.unreachable('bound a port held without SO_REUSEPORT'),
      (e: { code?: string }) => assert.is(e.code, 'EADDRINUSE'),
    );
  } finally {
    await threads.close();
    plain.close();
  }
  assert.throws(() => new ServerThreads({ address: '127.0.0.1', port: 123, threads: 0 }), /threads 0/);
  assert.throws(() => new ServerThreads({ address: '127.0.0.1', port: 0, threads: 1 }), /port 0/);
  assert.throws(() => new NtpServer({ address: '127.0.0.1', sharedCounters: new SharedArrayBuffer(8) }), /SharedArrayBuffer of at least/);
});

test.run();
