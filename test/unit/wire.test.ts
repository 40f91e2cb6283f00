// On-wire protocol (RFC 5905 §8, §9): each response test by name, the
// offset/delay arithmetic, the reference server answer, and KoD handling by
// a source (RATE raises the poll, DENY/RSTR demobilise).
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { parseKeyFile, signPacket } from '../../src/ntp/auth.js';
import { asciiRefId, decodePacket, encodePacket, type NtpPacket } from '../../src/ntp/packet.js';
import { unixNsToNtp64 } from '../../src/ntp/time.js';
import { buildRequest, buildResponse, processResponse, UNSYNCHRONISED, type Outstanding, type ServerState } from '../../src/ntp/wire.js';
import { Source } from '../../src/sync/source.js';
import { seededRng } from '../../src/util/rng.js';

const S = 1_000_000_000n;
const T0 = 1_795_219_200n * S;
const SERVER: ServerState = {
  leap: 0,
  stratum: 2,
  precisionLog2: -20,
  refId: 0x0a000001,
  referenceNs: T0 - 10n * S,
  rootDelayNs: 1_000_000,
  rootDispersionNs: 500_000,
};

function exchange(opts: { clientOffsetNs?: bigint; state?: ServerState } = {}) {
  const rng = seededRng(1);
  const req = buildRequest({ rng, pollLog2: 6 });
  const reqPkt = (decodePacket(req.bytes) as { packet: NtpPacket }).packet;
  const off = opts.clientOffsetNs ?? 0n; // client clock = true time + off
  const t1 = T0 + off;
  const t2 = T0 + 100_000n; // 100 µs out
  const t3 = t2 + 20_000n;
  const t4 = t3 + 100_000n + off;
  const resp = buildResponse(reqPkt, t2, t3, opts.state ?? SERVER)!;
  const out: Outstanding = { transmitTs: req.transmitTs, t1Ns: t1, version: 4, mode: 3, keyId: null };
  return { req, reqPkt, resp, out, t4 };
}

function check(resp: NtpPacket, out: Outstanding | null, t4: bigint, extra: Partial<Parameters<typeof processResponse>[1]> = {}) {
  return processResponse(encodePacket(resp), { outstanding: out, lastTransmitTs: null, t4Ns: t4, localPrecisionLog2: -20, ...extra });
}

test('offset and delay (RFC 5905 §8): θ = ((t2-t1)+(t3-t4))/2, δ = (t4-t1)-(t3-t2)', () => {
  const { resp, out, t4 } = exchange({ clientOffsetNs: -3_000_000n });
  const r = check(resp, out, t4);
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.is(r.sample.offsetNs, 3_000_000n);
  assert.is(r.sample.delayNs, 200_000);
  assert.is(r.sample.stratum, 2);
  assert.ok(Math.abs(r.sample.rootDelayNs - 1_000_000) <= 7_630, 'root delay within half a 16.16 unit');
  assert.is(r.sample.t2Ns - r.sample.t1Ns, 3_100_000n);
});

test('a 1970 board against a 2026 server: the offset is exact across 56 years', () => {
  const { resp, out, t4 } = exchange({ clientOffsetNs: -T0 });
  const r = check(resp, out, t4);
  assert.ok(r.ok);
  if (r.ok) assert.is(r.sample.offsetNs, T0);
});

test('test1: a duplicate of the last accepted response is rejected', () => {
  const { resp, out, t4 } = exchange();
  const r = check(resp, out, t4, { lastTransmitTs: resp.transmitTs });
  assert.equal(r.ok ? 'ok' : r.reason, 'test1-duplicate');
});

test('test2: a response whose origin is not our transmit, or with nothing outstanding, is bogus', () => {
  const { resp, out, t4 } = exchange();
  assert.is((check({ ...resp, originTs: resp.originTs ^ 1n }, out, t4) as { reason: string }).reason, 'test2-bogus');
  assert.is((check(resp, null, t4) as { reason: string }).reason, 'test2-bogus');
});

test('test3: zero receive or transmit timestamps are invalid', () => {
  const { resp, out, t4 } = exchange();
  assert.is((check({ ...resp, receiveTs: 0n }, out, t4) as { reason: string }).reason, 'test3-invalid-timestamps');
  assert.is((check({ ...resp, transmitTs: 0n }, out, t4) as { reason: string }).reason, 'test3-invalid-timestamps');
});

test('test5: required authentication — missing MAC, unknown key, bad digest; a good MAC passes', () => {
  const keys = parseKeyFile('5 SHA1 HEX:0102030405060708090a0b0c0d0e0f1011121314\n6 SHA1 HEX:ffffffffffffffffffffffffffffffffffffffff\n', 'k');
  const { resp, out, t4 } = exchange();
  const unsigned = encodePacket(resp);
  const ctx = { outstanding: out, lastTransmitTs: null, t4Ns: t4, localPrecisionLog2: -20, keys, requireKeyId: 5 };
  const r1 = processResponse(unsigned, ctx);
  assert.equal(r1.ok ? 'ok' : [r1.reason, (r1 as { detail?: string }).detail], ['test5-auth', 'none']);
  const signed6 = signPacket(unsigned, keys.get(6)!);
  const r2 = processResponse(signed6, ctx);
  assert.equal(r2.ok ? 'ok' : r2.reason, 'test5-auth', 'signed with another key');
  const signed5 = signPacket(unsigned, keys.get(5)!);
  const tampered = Uint8Array.from(signed5);
  tampered[tampered.length - 1]! ^= 1;
  const r3 = processResponse(tampered, ctx);
  assert.equal(r3.ok ? 'ok' : [r3.reason, (r3 as { detail?: string }).detail], ['test5-auth', 'bad-mac']);
  assert.ok(processResponse(signed5, ctx).ok);
  const unknown = processResponse(signed5, { ...ctx, keys: new Map() });
  assert.equal(unknown.ok ? 'ok' : (unknown as { detail?: string }).detail, 'unknown-key');
});

test('test6: an unsynchronised server (leap 3, or no reference time) is not used', () => {
  const { resp, out, t4 } = exchange();
  assert.is((check({ ...resp, leap: 3 }, out, t4) as { reason: string }).reason, 'test6-unsynchronised');
  assert.is((check({ ...resp, referenceTs: 0n }, out, t4) as { reason: string }).reason, 'test6-unsynchronised');
});

test('test7: stratum 16 and a root distance over 1.5 s are rejected', () => {
  const { resp, out, t4 } = exchange();
  assert.is((check({ ...resp, stratum: 16 }, out, t4) as { reason: string }).reason, 'test7-stratum');
  assert.is((check({ ...resp, rootDispersion: 2 << 16 }, out, t4) as { reason: string }).reason, 'test7-distance');
});

test('wrong mode, malformed bytes and KoD are told apart', () => {
  const { resp, out, t4 } = exchange();
  assert.is((check({ ...resp, mode: 2 }, out, t4) as { reason: string }).reason, 'bad-mode');
  const m = processResponse(new Uint8Array(20), { outstanding: out, lastTransmitTs: null, t4Ns: t4, localPrecisionLog2: -20 });
  assert.equal(m.ok ? 'ok' : [m.reason, (m as { detail?: string }).detail], ['malformed', 'too-short']);
  const kod = check({ ...resp, stratum: 0, refId: asciiRefId('RATE') }, out, t4);
  assert.equal(kod.ok ? 'ok' : [kod.reason, (kod as { code?: string }).code], ['kiss', 'RATE']);
});

test('requests carry a random transmit timestamp and leap 3; no two alike', () => {
  const rng = seededRng(77);
  const seen = new Set<bigint>();
  for (let i = 0; i < 1000; i++) {
    const r = buildRequest({ rng, pollLog2: 4 });
    const p = (decodePacket(r.bytes) as { packet: NtpPacket }).packet;
    assert.is(p.transmitTs, r.transmitTs);
    assert.is(p.originTs, 0n);
    assert.is(p.mode, 3);
    assert.is(p.leap, 3);
    seen.add(r.transmitTs);
  }
  assert.is(seen.size, 1000);
});

test('server reference response: modes, echoes, timestamps, dispersion growth; unsynchronised = leap 3, stratum 16', () => {
  const { reqPkt } = exchange();
  const rx = T0,
    tx = T0 + 5000n;
  const r = buildResponse({ ...reqPkt, version: 3, poll: 7 }, rx, tx, SERVER)!;
  assert.equal([r.mode, r.version, r.poll, r.stratum, r.leap, r.refId], [4, 3, 7, 2, 0, 0x0a000001]);
  assert.is(r.originTs, reqPkt.transmitTs);
  // Receive stamps carry the low bit set, basic transmit stamps clear (interleaved-mode detection).
  assert.is(r.receiveTs, unixNsToNtp64(rx) | 1n);
  assert.is(r.transmitTs, unixNsToNtp64(tx) & ~1n);
  // 500 µs + 15 ppm × 10 s = 650 µs, in 16.16 units
  assert.is(r.rootDispersion, Math.round(650e-6 * 65536));
  assert.is(buildResponse({ ...reqPkt, mode: 1 }, rx, tx, SERVER)!.mode, 2, 'symmetric active gets a passive answer');
  for (const mode of [2, 4, 5, 6, 7]) assert.is(buildResponse({ ...reqPkt, mode }, rx, tx, SERVER), null, `mode ${mode} unanswered`);
  const u = buildResponse(reqPkt, rx, tx, UNSYNCHRONISED)!;
  assert.equal([u.leap, u.stratum, u.referenceTs], [3, 16, 0n]);
});

test('a source: RATE kiss raises the poll, DENY and RSTR demobilise', () => {
  const rng = seededRng(3);
  for (const code of ['RATE', 'DENY', 'RSTR']) {
    const s = new Source({ id: 'a', address: '192.0.2.1', port: 123, minPollLog2: 4, maxPollLog2: 8 }, 0n);
    const bytes = s.poll(0n, rng, new Map())!;
    s.sent(T0);
    const req = (decodePacket(bytes) as { packet: NtpPacket }).packet;
    const kod = { ...buildResponse(req, T0, T0, SERVER)!, stratum: 0, refId: asciiRefId(code) };
    const { result } = s.receive(encodePacket(kod), T0 + 1000n, 1000n, -20, new Map());
    assert.ok(!result.ok);
    if (code === 'RATE') {
      assert.is(s.pollLog2, 5);
      assert.is(s.demobilized, null);
      assert.ok(s.nextPollMonoNs >= 1000n + 32n * S);
    } else {
      assert.match(String(s.demobilized), code);
      assert.is(s.poll(10n ** 15n, rng, new Map()), null, 'no more requests');
    }
  }
});

test('a source rejects a replay of an accepted response', () => {
  const rng = seededRng(4);
  const s = new Source({ id: 'a', address: '192.0.2.1', port: 123 }, 0n);
  const bytes = s.poll(0n, rng, new Map())!;
  s.sent(T0);
  const req = (decodePacket(bytes) as { packet: NtpPacket }).packet;
  const resp = encodePacket(buildResponse(req, T0 + 1000n, T0 + 2000n, SERVER)!);
  assert.ok(s.receive(resp, T0 + 3000n, 3000n, -20, new Map()).result.ok);
  const again = s.receive(resp, T0 + 4000n, 4000n, -20, new Map()).result;
  assert.equal(again.ok ? 'ok' : again.reason, 'test1-duplicate');
});

test.run();
