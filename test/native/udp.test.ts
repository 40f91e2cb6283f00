// The addon's UDP endpoint over real loopback sockets: kernel RX and TX
// stamps bracketed by user-space clock reads, batching, errors, close paths.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { realtimeNs } from '../../src/native/clock.js';
import { StampSource, UdpEndpoint, type Datagram, formatAddress } from '../../src/native/udp.js';
import { nodeArgv, workerSource } from '../helpers/node.js';
import { waitFor } from '../helpers/wait.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/**
 * qemu-user (test:arm) refuses SO_TIMESTAMPNS and SO_TIMESTAMPING: there the
 * addon must fall back to SO_TIMESTAMP, microseconds, with no TX stamps.
 */
const emulated = Boolean(process.env.CLOCKTOWER_TEST_EMULATOR);
const RX_SOURCE = emulated ? StampSource.KernelUs : StampSource.KernelNs;
/** A µs stamp is truncated: it may read up to 1 µs before the user clock read that preceded the send. */
const RX_SLACK_NS = emulated ? 1000n : 0n;

function collector(): { got: Datagram[]; batches: number[]; ep: (addr: string, opts?: object) => UdpEndpoint } {
  const got: Datagram[] = [];
  const batches: number[] = [];
  return {
    got,
    batches,
    ep: (address, opts = {}) =>
      new UdpEndpoint({ address, ...opts }, {
        onBatch: (b) => {
          batches.push(b.count);
          for (let i = 0; i < b.count; i++) got.push(b.copy(i));
        },
      }),
  };
}

for (const host of ['127.0.0.1', '::1']) {
  test(`${host}: kernel RX stamp lies between user clock reads around send and receive; TX stamp read back (${emulated ? 'emulated: SO_TIMESTAMP fallback, no TX stamps' : 'SO_TIMESTAMPNS'})`, async () => {
    const rx = collector();
    const server = rx.ep(host);
    const txStamps = new Map<number, bigint>();
    const client = new UdpEndpoint({ address: host }, { onTxStamp: (id, ns) => txStamps.set(id, ns) });
    try {
      assert.is(server.rxStampSource, RX_SOURCE);
      assert.is(client.txStamps, !emulated, 'kernel accepts SO_TIMESTAMPING with OPT_ID');
      const before = realtimeNs();
      const id = client.send(Uint8Array.of(1, 2, 3, 4), server.address().port, host, { txStamp: true });
      assert.is(id, emulated ? -1 : 0, 'first stamped send has id 0 (-1: no TX stamps)');
      await waitFor('datagram', () => rx.got.length === 1);
      const after = realtimeNs();
      const d = rx.got[0]!;
      assert.equal([...d.data], [1, 2, 3, 4]);
      assert.is(d.source, RX_SOURCE);
      assert.ok(d.rxNs >= before - RX_SLACK_NS && d.rxNs <= after, `rx ${d.rxNs} within [${before}, ${after}]`);
      assert.is(d.peer.address, host);
      assert.is(d.peer.port, client.address().port);
      assert.is(d.truncated, false);
      assert.is(d.ifIndex, 0, 'a socket bound to one address asks for no IP_PKTINFO');
      if (emulated) return;
      await waitFor('TX stamp', () => txStamps.has(0));
      const tx = txStamps.get(0)!;
      assert.ok(tx >= before && tx <= d.rxNs, `tx ${tx} within [${before}, rx ${d.rxNs}]`);
      assert.is(client.send(Uint8Array.of(5), server.address().port, host), -1, 'unstamped send has no id');
      assert.is(client.send(Uint8Array.of(6), server.address().port, host, { txStamp: true }), 1, 'ids count stamped sends only');
      await waitFor('second TX stamp', () => txStamps.has(1));
    } finally {
      server.close();
      client.close();
    }
  });
}

test('a stamped send leaves the socket off its epoll set for the send only: a ping-pong sent from inside onBatch (mid-drain) and from timers keeps every reply and TX stamp', async () => {
  const host = '127.0.0.1';
  const echo: UdpEndpoint = new UdpEndpoint({ address: host }, {
    onBatch: (b) => {
      for (let i = 0; i < b.count; i++) echo.send(Uint8Array.from(b.data(i)), b.peer(i).port, host);
    },
  });
  const stamps = new Set<number>();
  let replies = 0;
  const client: UdpEndpoint = new UdpEndpoint({ address: host }, {
    onTxStamp: (id) => stamps.add(id),
    onBatch: (b) => {
      replies += b.count;
      if (replies < 50) client.send(Uint8Array.of(replies), echo.address().port, host, { txStamp: true });
    },
  });
  try {
    client.send(Uint8Array.of(0), echo.address().port, host, { txStamp: true });
    await waitFor('50 replies', () => replies === 50);
    if (!emulated) await waitFor('50 TX stamps', () => stamps.size === 50);
    // Back on its epoll set after the last mid-drain send: a send from a timer is answered and stamped.
    await new Promise((r) => setTimeout(r, 20));
    client.send(Uint8Array.of(50), echo.address().port, host, { txStamp: true });
    await waitFor('reply 51', () => replies === 51);
    if (!emulated) await waitFor('TX stamp 51', () => stamps.size === 51);
  } finally {
    client.close();
    echo.close();
  }
});

test('a wildcard bind reports the arrival interface (IP_PKTINFO), a one-address bind does not ask for it', async () => {
  const rx = collector();
  const wild = rx.ep('0.0.0.0');
  const client = new UdpEndpoint({ address: '127.0.0.1' });
  try {
    client.send(Uint8Array.of(7), wild.address().port, '127.0.0.5');
    await waitFor('datagram', () => rx.got.length === 1);
    assert.ok(rx.got[0]!.ifIndex > 0, `loopback's index, got ${rx.got[0]!.ifIndex}`);
  } finally {
    client.close();
    wild.close();
  }
});

test('a batch of 64 datagrams arrives as one batch of 64 records with distinct stamps', async () => {
  const rx = collector();
  const server = rx.ep('127.0.0.1', { slots: 64 });
  const client = new UdpEndpoint({ address: '127.0.0.1' });
  try {
    const dgrams = Array.from({ length: 64 }, (_, i) => Uint8Array.of(i, i ^ 0xff, 7));
    assert.is(client.sendMany(dgrams, server.address().port, '127.0.0.1'), 64);
    await waitFor('64 datagrams', () => rx.got.length === 64);
    assert.equal(rx.batches, [64]);
    assert.equal(rx.got.map((d) => d.data[0]), dgrams.map((_, i) => i));
    // At µs resolution (emulated) neighbours may share a stamp.
    if (!emulated) assert.is(new Set(rx.got.map((d) => d.rxNs)).size, 64, 'distinct RX stamps');
    for (let i = 1; i < 64; i++) assert.ok(emulated ? rx.got[i]!.rxNs >= rx.got[i - 1]!.rxNs : rx.got[i]!.rxNs > rx.got[i - 1]!.rxNs, 'stamps increase in arrival order');
  } finally {
    server.close();
    client.close();
  }
});

test('a datagram longer than the slot arrives flagged truncated', async () => {
  const rx = collector();
  const server = rx.ep('127.0.0.1', { maxDatagram: 48 });
  const client = new UdpEndpoint({ address: '127.0.0.1' });
  try {
    client.send(new Uint8Array(100).fill(9), server.address().port, '127.0.0.1');
    await waitFor('datagram', () => rx.got.length === 1);
    assert.is(rx.got[0]!.truncated, true);
    assert.is(rx.got[0]!.data.length, 48);
  } finally {
    server.close();
    client.close();
  }
});

test('errors carry errno codes: EADDRINUSE, EADDRNOTAVAIL; bad arguments are TypeErrors', () => {
  const a = new UdpEndpoint({ address: '127.0.0.1' });
  try {
    const port = a.address().port;
    const e = (() => { try { new UdpEndpoint({ address: '127.0.0.1', port }); } catch (err) { return err as NodeJS.ErrnoException; } })();
    assert.is(e?.code, 'EADDRINUSE');
    assert.is(e?.syscall, 'bind');
    const e2 = (() => { try { new UdpEndpoint({ address: '192.0.2.1' }); } catch (err) { return err as NodeJS.ErrnoException; } })();
    assert.is(e2?.code, 'EADDRNOTAVAIL');
    assert.throws(() => new UdpEndpoint({ address: 'localhost' }), /not an IP address/);
    assert.throws(() => new UdpEndpoint({ address: '127.0.0.1', port: 70000 }), /port/);
    assert.throws(() => a.send(Uint8Array.of(1), 1, '::1'), /IPv6/);
    assert.throws(() => a.send([1] as unknown as Uint8Array, 1, '127.0.0.1'), /Uint8Array/);
  } finally {
    a.close();
  }
  assert.throws(() => a.send(Uint8Array.of(1), 9, '127.0.0.1'));
});

test('close with datagrams pending, inside the receive callback, and twice', async () => {
  const client = new UdpEndpoint({ address: '127.0.0.1' });
  const pending = new UdpEndpoint({ address: '127.0.0.1' }, { onBatch: () => assert.unreachable('closed before the loop ran') });
  client.sendMany([Uint8Array.of(1), Uint8Array.of(2)], pending.address().port, '127.0.0.1');
  pending.close();
  pending.close();
  let seen = 0;
  const inner: UdpEndpoint = new UdpEndpoint({ address: '127.0.0.1', slots: 1 }, {
    onBatch: () => {
      seen++;
      inner.close();
    },
  });
  client.sendMany([Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)], inner.address().port, '127.0.0.1');
  await waitFor('first datagram', () => seen === 1);
  await new Promise((r) => setTimeout(r, 20));
  assert.is(seen, 1, 'nothing delivered after close');
  assert.ok(inner.closed);
  client.close();
});

test('a worker thread receives on its own loop and exits with its endpoint open', async () => {
  const worker = new Worker(workerSource(path.join(here, 'fixtures', 'udp-worker.ts')), { eval: true });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const client = new UdpEndpoint({ address: '127.0.0.1' });
  const done = new Promise<unknown>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  client.send(Uint8Array.of(42), port, '127.0.0.1');
  assert.equal(await done, { byte: 42, source: RX_SOURCE });
  const code = await new Promise((r) => worker.once('exit', r));
  assert.is(code, 0);
  client.close();
});

test('a process exits cleanly with an unref\'d endpoint open and one still open at exit()', () => {
  const [cmd, ...argv] = nodeArgv(path.join(here, 'fixtures', 'udp-exit.ts'));
  const r = spawnSync(cmd!, argv, { encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout.trim(), 'bound');
});

test('IPv6 formatting compresses the longest zero run (RFC 5952)', () => {
  const v6 = (s: number[]) => formatAddress(Uint8Array.from(s));
  assert.is(v6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), '::1');
  assert.is(v6([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), 'fe80::1');
  assert.is(v6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]), '2001:db8:0:1::1');
  assert.is(v6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), '::');
});

/** The errno code `fn` throws, or '' when it does not throw. */
function codeOf(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code ?? 'no code';
  }
  return '';
}

test('broadcast and multicast options: bad groups and interfaces are refused in JS, good ones reach the kernel, kernel errors carry .code', () => {
  const ep = new UdpEndpoint({ address: '127.0.0.1' });
  const v6 = new UdpEndpoint({ address: '::1' });
  try {
    ep.setBroadcast(true);
    ep.joinGroup('239.255.77.123', { address: '127.0.0.1' });
    if (emulated) {
      // qemu-user has no IP_MULTICAST_IF: the kernel-style error must still come through, named.
      assert.is(codeOf(() => ep.setMulticastSend({ address: '127.0.0.1', hops: 1, loop: false })), 'ENOPROTOOPT');
    } else {
      ep.setMulticastSend({ address: '127.0.0.1', hops: 1, loop: false });
    }
    ep.leaveGroup('239.255.77.123', { address: '127.0.0.1' });
    assert.throws(() => ep.joinGroup('10.0.0.1'), /not a multicast group/);
    assert.throws(() => ep.joinGroup('ff02::1'), /IPv6 group ff02::1 on an IPv4 endpoint/);
    assert.throws(() => ep.joinGroup('239.1.1.1', { address: 'eth0' }), /IPv4 address/);
    assert.throws(() => ep.setMulticastSend({ hops: 256 }), /hops must be an integer 0..255/);
    assert.throws(() => v6.joinGroup('239.1.1.1'), /IPv6-only endpoint/);
    // Leaving a group never joined: the kernel's EADDRNOTAVAIL, named.
    assert.is(codeOf(() => ep.leaveGroup('239.255.77.124', { address: '127.0.0.1' })), 'EADDRNOTAVAIL');
  } finally {
    ep.close();
    v6.close();
  }
});

test.run();
