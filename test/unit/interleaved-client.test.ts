// The client side of interleaved mode (RFC 9769 §3) in the pure core: which
// replies are interleaved, the sample they give, and when a source asks in
// interleaved form and when it falls back to basic.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { decodePacket, encodePacket, type NtpPacket } from '../../src/ntp/packet.js';
import { unixNsToNtp64 } from '../../src/ntp/time.js';
import { buildResponse, processResponse, type Outstanding, type ServerState } from '../../src/ntp/wire.js';
import { MAX_INTERLEAVED_MISSES, Source } from '../../src/sync/source.js';
import { seededRng } from '../../src/util/rng.js';

const T0 = 1_800_000_000_000_000_000n;
const STATE: ServerState = { leap: 0, stratum: 2, precisionLog2: -24, refId: 1, referenceNs: T0 - 1_000_000_000n, rootDelayNs: 0, rootDispersionNs: 0 };
const decode = (b: Uint8Array): NtpPacket => (decodePacket(b) as { packet: NtpPacket }).packet;
const ctx = (out: Outstanding, t4Ns: bigint) => ({ outstanding: out, lastTransmitTs: null, t4Ns, localPrecisionLog2: -20 });

test('an interleaved reply completes the earlier exchange with the server TX stamp; basic and bogus ones as ever', () => {
  // The earlier exchange: sent at T0, received by the server at +50 µs (server 10 µs ahead), its reply out at +60 µs (kernel), back at +100 µs.
  const prev = { t1Ns: T0, t2Ts: unixNsToNtp64(T0 + 60_000n) | 1n, t2Ns: T0 + 60_000n, t4Ns: T0 + 100_000n };
  const out: Outstanding = {
    transmitTs: 0xabcdn << 8n,
    t1Ns: T0 + 1_000_000_000n,
    version: 4,
    mode: 3,
    keyId: null,
    interleaved: { receiveTs: unixNsToNtp64(prev.t4Ns), prev },
  };
  const req: NtpPacket = { ...decode(new Uint8Array(48)), version: 4, mode: 3, transmitTs: out.transmitTs, receiveTs: out.interleaved!.receiveTs };
  const rx = T0 + 1_000_060_000n;
  const xl = buildResponse(req, rx, rx + 10_000n, STATE, { interleavedTxTs: unixNsToNtp64(T0 + 70_000n) })!;
  const r = processResponse(encodePacket(xl), ctx(out, T0 + 1_000_100_000n));
  assert.ok(
    r.ok && r.interleaved,
    JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
  );
  if (!r.ok) return;
  // θ = ((T2 − T1) + (T3 − T4)) / 2 = (60 − 30) / 2 µs; δ = (T4 − T1) − (T3 − T2) = 100 − 10 µs.
  assert.is(r.sample.offsetNs, 15_000n);
  assert.is(r.sample.delayNs, 90_000);
  assert.is(r.sample.t4Ns, prev.t4Ns);
  const basic = processResponse(encodePacket(buildResponse(req, rx, rx + 10_000n, STATE)!), ctx(out, T0 + 1_000_100_000n));
  assert.ok(basic.ok && !basic.interleaved);
  const bogus = processResponse(encodePacket({ ...xl, originTs: xl.originTs ^ 4n }), ctx(out, T0 + 1_000_100_000n));
  assert.is(bogus.ok ? 'ok' : bogus.reason, 'test2-bogus');
  const early = processResponse(encodePacket({ ...xl, transmitTs: unixNsToNtp64(T0 + 50_000n) }), ctx(out, T0 + 1_000_100_000n));
  assert.is(early.ok ? 'ok' : early.reason, 'test3-invalid-timestamps', 'T3 before T2');
});

test('a source asks in interleaved form after a reply, and in basic form after four unanswered requests', () => {
  const rng = seededRng(21);
  const src = new Source({ id: 's', address: '10.0.0.1', port: 123, minPollLog2: 0, maxPollLog2: 0, interleaved: true }, 0n);
  let mono = 0n;
  const poll = (): NtpPacket => {
    const bytes = src.poll(mono, rng, new Map())!;
    src.sent(T0 + mono);
    return decode(bytes);
  };
  const first = poll();
  assert.is(first.originTs, 0n, 'the first request is basic');
  const resp = buildResponse(first, T0 + mono + 50_000n, T0 + mono + 60_000n, STATE)!;
  assert.ok(src.receive(encodePacket(resp), T0 + mono + 100_000n, mono, -20, new Map()).result.ok);
  mono += 2_000_000_000n;
  const second = poll();
  assert.is(second.originTs, resp.receiveTs, 'origin = the server receive stamp');
  assert.is(second.receiveTs, unixNsToNtp64(T0 + 100_000n), 'receive = our RX stamp of its reply');
  assert.ok(second.receiveTs !== second.transmitTs);
  for (let i = 0; i < MAX_INTERLEAVED_MISSES; i++) {
    mono += 2_000_000_000n;
    poll();
  }
  mono += 2_000_000_000n;
  assert.is(poll().originTs, 0n, 'unanswered four times: basic again');
});

test.run();
