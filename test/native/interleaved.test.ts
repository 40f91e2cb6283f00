// Interleaved mode in the native server (RFC 9769 §3), over loopback: which
// requests it answers interleaved, that the answer matches the TypeScript
// reference field by field and carries the kernel TX stamp of the earlier
// reply, that a forged origin never yields another client's stamp, and that
// the table drops its oldest entries and empties on a clock step.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { decodePacket, emptyPacket, encodePacket, type NtpPacket } from '../../src/ntp/packet.js';
import { ntp64ToUnixNs } from '../../src/ntp/time.js';
import { buildResponse, isInterleavedRequest, type ServerState } from '../../src/ntp/wire.js';
import { realtimeNs } from '../../src/native/clock.js';
import { NtpServer } from '../../src/native/server.js';
import { UdpEndpoint } from '../../src/native/udp.js';
import { seededRng } from '../../src/util/rng.js';
import { testSeed } from '../helpers/seed.js';
import { waitFor } from '../helpers/wait.js';

const STATE: ServerState = { leap: 0, stratum: 2, precisionLog2: -24, refId: 0x0a000001, referenceNs: null, rootDelayNs: 1_000_000, rootDispersionNs: 500_000 };
const rng = seededRng(testSeed(9769));

function server(entries?: number): NtpServer {
  const s = new NtpServer({ address: '127.0.0.1' });
  const sys = realtimeNs();
  s.setState({ ...STATE, referenceNs: sys }, { refSysNs: sys, refNodeNs: sys, freqPpm: 0 });
  if (entries !== undefined) s.setInterleaved(entries);
  return s;
}

/**
 * Where the kernel gives no TX stamps (qemu-user refuses SO_TIMESTAMPING),
 * the server cannot keep any: a request in interleaved form is answered in
 * basic mode, and the test of what follows ends there.
 */
function noTxStamps(s: NtpServer, r: { req: NtpPacket; resp: NtpPacket }): boolean {
  if (s.txStamps) return false;
  assert.is(r.resp.originTs, r.req.transmitTs, 'no TX stamps: answered in basic mode');
  assert.is(s.counters().answeredInterleaved, 0n);
  return true;
}

/** A client on its own loopback address that keeps its last reply, as a client in interleaved mode does. */
class Client {
  readonly got: { pkt: NtpPacket; rxNs: bigint }[] = [];
  readonly ep: UdpEndpoint;
  constructor(readonly address: string) {
    this.ep = new UdpEndpoint({ address }, { onBatch: (b) => { for (let i = 0; i < b.count; i++) this.got.push({ pkt: (decodePacket(b.data(i)) as { packet: NtpPacket }).packet, rxNs: b.rxNs(i) }); } });
  }
  /** Sends a request (over: its fields) and returns the request and its answer. */
  async ask(s: NtpServer, over: Partial<NtpPacket> = {}): Promise<{ req: NtpPacket; resp: NtpPacket; rxNs: bigint }> {
    const req: NtpPacket = { ...emptyPacket(), version: 4, mode: 3, poll: 0, transmitTs: rng.u64() & ~1n | 2n, ...over };
    const n = this.got.length;
    this.ep.send(encodePacket(req), s.address().port, '127.0.0.1');
    await waitFor('an answer', () => this.got.length > n);
    return { req, ...this.got[n]!, resp: this.got[n]!.pkt };
  }
  /** The next request in interleaved form: origin = the server's receive, receive = our RX of its reply. */
  async askInterleaved(s: NtpServer, last: { resp: NtpPacket; rxNs: bigint }) {
    return this.ask(s, { originTs: last.resp.receiveTs, receiveTs: BigInt(last.rxNs) * 4n + 1n });
  }
  close(): void {
    this.ep.close();
  }
}

test('the detection rules: NTPv4 client requests whose origin has its low bit set and whose receive differs from transmit', () => {
  const base: NtpPacket = { ...emptyPacket(), version: 4, mode: 3, originTs: 0x1234n | 1n, receiveTs: 7n, transmitTs: 8n };
  assert.ok(isInterleavedRequest(base));
  assert.not.ok(isInterleavedRequest({ ...base, originTs: 0x1234n }), 'origin names no receive stamp of ours');
  assert.not.ok(isInterleavedRequest({ ...base, receiveTs: 8n }), 'receive = transmit: basic');
  assert.not.ok(isInterleavedRequest({ ...base, version: 3 }), 'NTPv3');
  assert.not.ok(isInterleavedRequest({ ...base, mode: 1 }), 'symmetric');
});

test('every receive stamp has its low bit set and every basic transmit stamp clear', async () => {
  const s = server();
  const c = new Client('127.0.0.1');
  try {
    for (let i = 0; i < 20; i++) {
      const { resp } = await c.ask(s);
      assert.is(resp.receiveTs & 1n, 1n);
      assert.is(resp.transmitTs & 1n, 0n);
    }
  } finally {
    c.close();
    s.close();
  }
});

test('the third request of a client in interleaved form is answered with the kernel TX stamp of the second reply, field by field as the reference', async () => {
  const s = server();
  const c = new Client('127.0.0.1');
  try {
    const r1 = await c.ask(s);
    const r2 = await c.askInterleaved(s, r1);
    assert.is(r2.resp.originTs, r2.req.transmitTs, 'the first reply was not stamped: basic');
    const r3 = await c.askInterleaved(s, r2);
    if (noTxStamps(s, r3)) return;
    assert.is(r3.resp.originTs, r3.req.receiveTs, 'interleaved: origin = the request receive');
    const t2 = ntp64ToUnixNs(r2.resp.receiveTs, r2.rxNs)!;
    const t3Basic = ntp64ToUnixNs(r2.resp.transmitTs, r2.rxNs)!;
    const t3 = ntp64ToUnixNs(r3.resp.transmitTs, r2.rxNs)!;
    // The kernel stamped the second reply after the user-space read that went into it, before it arrived.
    assert.ok(t3 >= t3Basic && t3 <= r2.rxNs && t3 > t2, `T2 ${t2} <= basic T3 ${t3Basic} <= kernel T3 ${t3} <= T4 ${r2.rxNs}`);
    const ref = buildResponse(r3.req, ntp64ToUnixNs(r3.resp.receiveTs, r3.rxNs)!, 0n, { ...STATE, referenceNs: ntp64ToUnixNs(r3.resp.referenceTs, r3.rxNs)! }, { interleavedTxTs: r3.resp.transmitTs })!;
    assert.equal({ ...r3.resp, rootDispersion: 0, receiveTs: r3.resp.receiveTs >> 2n }, { ...ref, rootDispersion: 0, receiveTs: ref.receiveTs >> 2n });
    assert.is(s.counters().answeredInterleaved, 1n);
    // The stamp is served once: the same request again is answered in basic mode.
    const again = await c.ask(s, { originTs: r2.resp.receiveTs, receiveTs: r3.req.receiveTs });
    assert.is(again.resp.originTs, again.req.transmitTs);
  } finally {
    c.close();
    s.close();
  }
});

test("a forged origin never yields another client's stamp; the owner still gets it", async () => {
  const s = server();
  const a = new Client('127.0.0.1');
  const b = new Client('127.0.0.2');
  try {
    const a1 = await a.ask(s);
    const a2 = await a.askInterleaved(s, a1);
    // B names A's stamped reply as its origin.
    const forged = await b.ask(s, { originTs: a2.resp.receiveTs, receiveTs: 12345n });
    assert.is(forged.resp.originTs, forged.req.transmitTs, 'answered basic');
    assert.ok(ntp64ToUnixNs(forged.resp.transmitTs, forged.rxNs)! > ntp64ToUnixNs(a2.resp.receiveTs, forged.rxNs)!);
    const a3 = await a.askInterleaved(s, a2);
    if (noTxStamps(s, a3)) return;
    assert.is(a3.resp.originTs, a3.req.receiveTs, 'A is answered interleaved');
    assert.is(s.counters().answeredInterleaved, 1n);
  } finally {
    a.close();
    b.close();
    s.close();
  }
});

test('a full table drops its oldest entries; a clock step empties it; 0 turns interleaving off', async () => {
  const s = server(4);
  const a = new Client('127.0.0.1');
  const b = new Client('127.0.0.3');
  if (!s.txStamps) {
    // Nothing is ever stamped: the table stays empty and every answer is basic (checked above).
    a.close();
    b.close();
    s.close();
    return;
  }
  try {
    let last = await a.askInterleaved(s, await a.ask(s));
    // Eight other stamped replies push A's out of a table of four (B names a reply never stamped: none is taken out).
    const b1 = await b.ask(s);
    for (let i = 0; i < 8; i++) await b.askInterleaved(s, b1);
    let r = await a.askInterleaved(s, last);
    assert.is(r.resp.originTs, r.req.transmitTs, 'evicted: basic');
    // Stamped again, then a step of the served clock.
    last = r;
    const sys = realtimeNs();
    s.setState({ ...STATE, referenceNs: sys }, { refSysNs: sys, refNodeNs: sys + 5_000_000n, freqPpm: 0, stepEpoch: 1 });
    r = await a.askInterleaved(s, last);
    assert.is(r.resp.originTs, r.req.transmitTs, 'flushed by the step: basic');
    r = await a.askInterleaved(s, r);
    assert.is(r.resp.originTs, r.req.receiveTs, 'stamped after the step: interleaved');
    s.setInterleaved(0);
    r = await a.askInterleaved(s, r);
    assert.is(r.resp.originTs, r.req.transmitTs, 'off: basic');
  } finally {
    a.close();
    b.close();
    s.close();
  }
});

test.run();
