// The link emulator (test/tools/relay.c) over real loopback sockets: a client
// and an echo server in this process, the relay between them. Delay, loss,
// duplication, reordering, jitter and partition are each seen where the
// datagrams arrive, and changed while the relay runs.
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { Relay, type LinkSpec } from '../tools/relay.js';

const HOST = '127.0.0.77';
const ECHO_PORT = 24002;
const RELAY_PORT = 24001;

interface Arrival {
  seq: number;
  /** Forward one-way time (relay in), ms. */
  fwdMs: number;
}

/** An echo server that notes when each datagram (carrying its send time) arrived, and a client. */
async function setup(): Promise<{ echo: Socket; client: Socket; arrivals: Arrival[]; replies: number[]; close: () => void }> {
  const echo = createSocket('udp4');
  const client = createSocket('udp4');
  const arrivals: Arrival[] = [];
  const replies: number[] = [];
  echo.on('message', (m, from) => {
    arrivals.push({ seq: m.readUInt32BE(0), fwdMs: Number(process.hrtime.bigint() - m.readBigUInt64BE(4)) / 1e6 });
    echo.send(m, from.port, from.address);
  });
  client.on('message', (m) => replies.push(Number(process.hrtime.bigint() - m.readBigUInt64BE(4)) / 1e6));
  echo.bind(ECHO_PORT, HOST);
  client.bind(0, HOST);
  await Promise.all([once(echo, 'listening'), once(client, 'listening')]);
  return { echo, client, arrivals, replies, close: () => (echo.close(), client.close()) };
}

function send(client: Socket, seq: number): void {
  const m = Buffer.alloc(48);
  m.writeUInt32BE(seq, 0);
  m.writeBigUInt64BE(process.hrtime.bigint(), 4);
  client.send(m, RELAY_PORT, HOST);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function withRelay(
  o: { fwd?: LinkSpec; rev?: LinkSpec; seed?: number },
  body: (r: Relay, s: Awaited<ReturnType<typeof setup>>) => Promise<void>,
): Promise<void> {
  const s = await setup();
  const r = await Relay.start({ listen: `${HOST}:${RELAY_PORT}`, target: `${HOST}:${ECHO_PORT}`, ...o });
  try {
    await body(r, s);
  } finally {
    await r.stop();
    s.close();
  }
}

test('delay: each direction its own, never less than asked; the relay reports its own lateness', async () => {
  await withRelay({ fwd: { delayUs: 3000 }, rev: { delayUs: 1000 } }, async (r, s) => {
    for (let i = 0; i < 20; i++) {
      send(s.client, i);
      await sleep(15);
    }
    await sleep(50);
    assert.is(s.arrivals.length, 20);
    assert.is(s.replies.length, 20);
    assert.ok(Math.min(...s.arrivals.map((a) => a.fwdMs)) >= 3, `forward ≥ 3 ms: ${Math.min(...s.arrivals.map((a) => a.fwdMs))}`);
    assert.ok(Math.min(...s.replies) >= 4, `round trip ≥ 3 + 1 ms: ${Math.min(...s.replies)}`);
    assert.ok(median(s.arrivals.map((a) => a.fwdMs)) < 3 + 50, 'and not wildly more');
    const st = await r.stats();
    assert.is(st.forwarded, 40);
    assert.ok(st.late_us.max >= st.late_us.p50 && st.late_us.p50 >= 0);
    // Per direction too: the whole is the two together.
    for (const d of [st.late_fwd_us, st.late_rev_us]) assert.ok(d.max >= d.p50 && d.p50 >= 0 && d.max <= st.late_us.max);
    assert.is(Math.max(st.late_fwd_us.max, st.late_rev_us.max), st.late_us.max);
    assert.is(st.rt, false, 'not real-time unless asked');
  });
});

test('jitter: a normal spread around the delay', async () => {
  await withRelay({ fwd: { delayUs: 6000, jitterUs: 2000, dist: 'normal' }, seed: 7 }, async (_r, s) => {
    for (let i = 0; i < 60; i++) {
      send(s.client, i);
      await sleep(12);
    }
    await sleep(30);
    const fwd = s.arrivals.map((a) => a.fwdMs);
    const m = fwd.reduce((a, b) => a + b, 0) / fwd.length;
    const sd = Math.sqrt(fwd.reduce((a, b) => a + (b - m) ** 2, 0) / fwd.length);
    assert.ok(sd > 1 && sd < 4, `spread ${sd.toFixed(2)} ms for a 2 ms jitter`);
    assert.ok(Math.min(...fwd) < 5, 'some earlier than the mean delay');
  });
});

test('loss, switched at run time: all lost, then none', async () => {
  await withRelay({ fwd: { loss: 1 } }, async (r, s) => {
    for (let i = 0; i < 10; i++) send(s.client, i);
    await sleep(100);
    assert.is(s.arrivals.length, 0);
    assert.is((await r.stats()).lost, 10);
    await r.set('fwd', { loss: 0 });
    for (let i = 0; i < 10; i++) send(s.client, i);
    await sleep(100);
    assert.is(s.arrivals.length, 10);
  });
});

test('partition cuts the link both ways and heals it', async () => {
  await withRelay({}, async (r, s) => {
    send(s.client, 1);
    await sleep(50);
    assert.is(s.replies.length, 1, 'a route exists before the cut');
    await r.partition(true);
    for (let i = 0; i < 5; i++) send(s.client, i);
    await sleep(100);
    assert.is(s.arrivals.length, 1);
    assert.is((await r.stats()).partition_dropped, 5);
    await r.partition(false);
    send(s.client, 9);
    await sleep(50);
    assert.is(s.replies.length, 2);
  });
});

test('duplication and reordering', async () => {
  await withRelay({ fwd: { dup: 1 } }, async (_r, s) => {
    for (let i = 0; i < 5; i++) send(s.client, i);
    await sleep(100);
    assert.is(s.arrivals.length, 10, 'every datagram twice');
  });
  await withRelay({ fwd: { delayUs: 1000, reorder: 0.3 }, seed: 3 }, async (r, s) => {
    for (let i = 0; i < 40; i++) send(s.client, i);
    await sleep(200);
    const order = s.arrivals.map((a) => a.seq);
    assert.is(order.length, 40);
    assert.ok(
      order.some((seq, i) => i > 0 && seq < order[i - 1]!),
      `some overtaken: ${order.join(',')}`,
    );
    assert.ok((await r.stats()).reordered > 0);
  });
});

test.run();
