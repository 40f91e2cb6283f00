// Packet codec (RFC 5905 §7.3, RFC 7822): every rejection reason, field
// placement against hand-built bytes, and decode(encode(x)) = x over seeded
// random packets.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { asciiRefId, decodePacket, emptyPacket, encodePacket, formatRefId, ipv4RefId, kissCode, type NtpPacket } from '../../src/ntp/packet.js';
import { seededRng, type Rng } from '../../src/util/rng.js';
import { testSeed } from '../helpers/seed.js';

function header(first = 0x23): Uint8Array {
  const b = new Uint8Array(48);
  b[0] = first; // LI 0, VN 4, mode 3
  return b;
}
function withTail(h: Uint8Array, tail: number[]): Uint8Array {
  const out = new Uint8Array(h.length + tail.length);
  out.set(h);
  out.set(tail, h.length);
  return out;
}
function ef(type: number, len: number): number[] {
  const a = new Array<number>(len).fill(0);
  a[0] = type >> 8;
  a[1] = type & 0xff;
  a[2] = len >> 8;
  a[3] = len & 0xff;
  return a;
}
const reason = (b: Uint8Array) => {
  const r = decodePacket(b);
  return r.ok ? 'ok' : r.reason;
};

test('header fields sit where RFC 5905 figure 8 puts them', () => {
  const b = new Uint8Array(48);
  b.set([0xe4, 2, 0xfa, 0xec], 0); // LI 3, VN 4, mode 4; stratum 2; poll -6; precision -20
  b.set([0, 1, 0x80, 0], 4); // root delay 1.5 s
  b.set([0, 0, 0, 0x10], 8);
  b.set([127, 0, 0, 1], 12);
  b.set([1, 2, 3, 4, 5, 6, 7, 8], 40);
  const r = decodePacket(b);
  assert.ok(r.ok);
  const p = (r as { packet: NtpPacket }).packet;
  assert.equal([p.leap, p.version, p.mode, p.stratum, p.poll, p.precision], [3, 4, 4, 2, -6, -20]);
  assert.is(p.rootDelay, 0x18000);
  assert.is(p.rootDispersion, 0x10);
  assert.is(formatRefId(p.refId, 2), '127.0.0.1');
  assert.is(p.transmitTs, 0x0102030405060708n);
  assert.equal(encodePacket(p), b);
});

test('rejections: too-short, too-long, bad-length, bad-version, bad-mode', () => {
  assert.is(reason(new Uint8Array(47)), 'too-short');
  assert.is(reason(new Uint8Array(0)), 'too-short');
  assert.is(reason(new Uint8Array(2000).fill(0x23, 0, 1)), 'too-long');
  assert.is(reason(withTail(header(), [0, 0])), 'bad-length');
  assert.is(reason(header(0x03)), 'bad-version', 'version 0');
  assert.is(reason(header(0x2b)), 'bad-version', 'version 5');
  assert.is(reason(header(0x3b)), 'bad-version', 'version 7');
  assert.is(reason(header(0x20)), 'bad-mode', 'mode 0 is reserved');
  for (let v = 1; v <= 4; v++) assert.is(reason(header((v << 3) | 3)), 'ok', `version ${v}`);
});

test('extension fields (RFC 7822): lengths, last-field minimum, padding', () => {
  assert.is(reason(withTail(header(), ef(0x0104, 28))), 'ok', 'a 28-byte last field');
  assert.is(reason(withTail(header(), ef(0x0104, 32))), 'ok');
  assert.is(reason(withTail(header(), [...ef(1, 16), ...ef(2, 28)])), 'ok', 'a 16-byte field followed by another');
  assert.is(reason(withTail(header(), [...ef(1, 12), ...new Array(16).fill(0)])), 'bad-ef-length', 'shorter than 16');
  assert.is(reason(withTail(header(), [...ef(1, 30), 0, 0])), 'bad-ef-length', 'not a multiple of 4');
  assert.is(
    reason(
      withTail(
        header(),
        ef(1, 28).map((v, i) => (i === 3 ? 64 : v)),
      ),
    ),
    'bad-ef-length',
    'longer than the packet',
  );
  const r = decodePacket(withTail(header(), [...ef(0x0204, 16), ...ef(0x0104, 28), ...[0, 0, 0, 7], ...new Array(16).fill(0xaa)]));
  assert.ok(r.ok);
  const p = (r as { packet: NtpPacket }).packet;
  assert.equal(
    p.extensions.map((e) => [e.type, e.body.length]),
    [
      [0x0204, 12],
      [0x0104, 24],
    ],
  );
  assert.is(p.mac!.keyId, 7);
  assert.is(p.mac!.digest.length, 16);
});

test('MAC (RFC 5905 §7.3, RFC 7822 §7.5): 20..24 bytes in v4, crypto-NAK, longer in v3', () => {
  for (const n of [20, 24]) assert.is(reason(withTail(header(), new Array(n).fill(1))), 'ok', `${n}-byte MAC`);
  assert.is(reason(withTail(header(), new Array(8).fill(1))), 'bad-mac-length', '8 bytes: neither EF nor MAC');
  assert.is(reason(withTail(header(), new Array(16).fill(1))), 'bad-mac-length');
  assert.is(reason(withTail(header(), [0, 0, 0, 1])), 'bad-mac-length', 'a 4-byte MAC must be key 0 (crypto-NAK)');
  const nak = decodePacket(withTail(header(), [0, 0, 0, 0]));
  assert.ok(nak.ok && nak.packet.mac!.keyId === 0 && nak.packet.mac!.digest.length === 0);
  const v3 = 0x1b;
  assert.is(reason(withTail(header(v3), new Array(36).fill(1))), 'ok', 'v3: a 32-byte digest');
  assert.is(reason(withTail(header(v3), new Array(72).fill(1))), 'bad-mac-length', 'v3: over 64-byte digest');
  assert.is(reason(withTail(header(v3), ef(1, 28))), 'ok', 'v3 has no extension fields: 28 bytes is a MAC');
});

test("Kiss-o'-Death codes (RFC 5905 §7.4) and refid helpers", () => {
  const p = { ...emptyPacket(), mode: 4, stratum: 0, refId: asciiRefId('RATE') };
  assert.is(kissCode(p), 'RATE');
  assert.is(kissCode({ ...p, refId: asciiRefId('DENY') }), 'DENY');
  assert.is(kissCode({ ...p, stratum: 1 }), null);
  assert.is(formatRefId(asciiRefId('GPS'), 1), 'GPS');
  assert.is(formatRefId(ipv4RefId('10.1.2.3'), 3), '10.1.2.3');
});

function randomPacket(rng: Rng): NtpPacket {
  const version = rng.int(1, 4);
  const extensions =
    version === 4 && rng.float() < 0.5
      ? Array.from({ length: rng.int(1, 3) }, () => ({
          type: rng.int(0, 0xffff),
          body: Uint8Array.from({ length: 4 * rng.int(6, 20) }, () => rng.int(0, 255)),
        }))
      : [];
  const sizes = version === 4 ? [16, 20] : [16, 20, 32, 48, 64];
  const macLen = rng.float() < 0.5 ? 0 : sizes[rng.int(0, sizes.length - 1)]!;
  return {
    leap: rng.int(0, 3),
    version,
    mode: rng.int(1, 7),
    stratum: rng.int(0, 255),
    poll: rng.int(-128, 127),
    precision: rng.int(-128, 127),
    rootDelay: rng.u32(),
    rootDispersion: rng.u32(),
    refId: rng.u32(),
    referenceTs: rng.u64(),
    originTs: rng.u64(),
    receiveTs: rng.u64(),
    transmitTs: rng.u64(),
    extensions,
    mac: macLen ? { keyId: rng.u32() || 1, digest: Uint8Array.from({ length: macLen }, () => rng.int(0, 255)) } : null,
  };
}

test('decode(encode(x)) = x for 20,000 seeded random packets', () => {
  const seed = testSeed(5905);
  const rng = seededRng(seed);
  for (let i = 0; i < 20_000; i++) {
    const p = randomPacket(rng);
    const bytes = encodePacket(p);
    const r = decodePacket(bytes);
    assert.ok(r.ok, `seed ${seed} #${i}: ${r.ok ? '' : r.reason}`);
    assert.equal((r as { packet: NtpPacket }).packet, p, `seed ${seed} #${i}`);
    assert.equal(encodePacket((r as { packet: NtpPacket }).packet), bytes);
  }
});

test('random bytes never throw: every input decodes or is rejected with a reason', () => {
  const seed = testSeed(7822);
  const rng = seededRng(seed);
  const reasons = new Set<string>();
  for (let i = 0; i < 20_000; i++) {
    const len = rng.float() < 0.7 ? 48 + 4 * rng.int(0, 30) : rng.int(0, 200);
    const b = Uint8Array.from({ length: len }, () => rng.int(0, 255));
    reasons.add(reason(b));
  }
  for (const r of ['ok', 'too-short', 'bad-length', 'bad-version', 'bad-ef-length', 'bad-mac-length']) assert.ok(reasons.has(r), `seed ${seed}: saw ${r}`);
});

test.run();
