// The election's wire format: round trips, every malformed class rejected
// with a reason (never thrown), and HMAC-SHA256 under a cluster key.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { decodeMessage, encodeMessage, HEADER_BYTES, MsgType, NO_AGE, Role, type ElectionMessage } from '../../src/election/wire.js';
import { seededRng } from '../../src/util/rng.js';
import { testSeed } from '../helpers/seed.js';

const key = { id: 7, secret: new TextEncoder().encode('cluster secret') };

function randomMessage(r: ReturnType<typeof seededRng>): ElectionMessage {
  const v6 = r.float() < 0.5;
  return {
    type: r.int(1, 3),
    role: r.int(0, 2),
    flags: r.int(0, 7),
    stratum: r.int(0, 16),
    priority: r.u32(),
    leaderAgeMs: r.float() < 0.3 ? NO_AGE : r.int(0, 100_000),
    bootId: r.u64(),
    seq: r.u64(),
    nonce: r.u64(),
    floorNs: r.u64() >> 1n,
    ntpPort: r.int(1, 65535),
    id: `node-${r.u32().toString(36)}-ü`,
    leader:
      r.float() < 0.5
        ? null
        : {
            id: `L${r.int(0, 999)}`,
            address: v6 ? `fd00::${r.int(1, 0xffff).toString(16)}` : `10.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}`,
            port: r.int(1, 65535),
            ntpPort: r.int(1, 65535),
          },
    candidates: Array.from({ length: r.int(0, 2) }, (_, i) => ({
      id: `C${i}-${r.u32().toString(36)}`,
      address: v6 ? `fd00::${r.int(1, 0xffff).toString(16)}` : `10.1.${r.int(0, 255)}.${r.int(1, 254)}`,
      port: r.int(1, 65535),
      ntpPort: r.int(1, 65535),
      priority: r.u32(),
      stratum: r.int(0, 16),
      flags: r.int(0, 7),
    })),
  };
}

test('round trip: decode(encode(m)) = m, with and without a key', () => {
  const r = seededRng(testSeed(5));
  for (let i = 0; i < 2000; i++) {
    const m = randomMessage(r);
    const k = i % 2 ? key : undefined;
    const d = decodeMessage(encodeMessage(m, k), k);
    assert.ok(d.ok, `message ${i}`);
    if (d.ok) assert.equal(d.msg, m);
  }
});

test('malformed datagrams are rejected with a reason, never thrown', () => {
  const r = seededRng(testSeed(6));
  const good = encodeMessage(randomMessage(r));
  const cases: [string, Uint8Array][] = [
    ['short', good.subarray(0, HEADER_BYTES - 1)],
    ['magic', Uint8Array.from(good, (b, i) => (i === 0 ? 0x00 : b))],
    ['type', Uint8Array.from(good, (b, i) => (i === 3 ? 0 : b))],
    ['role', Uint8Array.from(good, (b, i) => (i === 4 ? 3 : b))],
    ['id length', Uint8Array.from(good, (b, i) => (i === 7 ? 0 : b))],
    ['trailing byte', Uint8Array.from([...good, 0])],
  ];
  for (const [what, bytes] of cases) {
    const d = decodeMessage(bytes);
    assert.ok(!d.ok && d.reason === 'malformed', what);
  }
  for (let i = 0; i < 20000; i++) {
    const b = Uint8Array.from(good);
    for (let k = r.int(1, 4); k > 0; k--) b[r.int(0, b.length - 1)] = r.int(0, 255);
    decodeMessage(b.subarray(0, r.int(0, b.length))); // must not throw
  }
});

test('an older protocol version is named, not parsed; a list of more than two candidates is malformed', () => {
  const r = seededRng(testSeed(61));
  const good = encodeMessage({ ...randomMessage(r), candidates: [] });
  const v1 = decodeMessage(Uint8Array.from(good, (b, i) => (i === 2 ? 1 : b)));
  assert.equal(v1, { ok: false, reason: 'version', version: 1 });
  const countAt = good.length - 1; // no key, no candidates: the count is the last byte
  const three = decodeMessage(Uint8Array.from(good, (b, i) => (i === countAt ? 3 : b)));
  assert.ok(!three.ok && three.reason === 'malformed' && three.detail === '3 candidates', JSON.stringify(three));
});

test('with a cluster key: unsigned is unauthenticated, a wrong key or a flipped bit is a bad MAC', () => {
  const m = randomMessage(seededRng(testSeed(7)));
  assert.is((decodeMessage(encodeMessage(m), key) as { reason: string }).reason, 'unauthenticated');
  const other = { id: 7, secret: new TextEncoder().encode('another secret') };
  assert.is((decodeMessage(encodeMessage(m, other), key) as { reason: string }).reason, 'bad-mac');
  assert.is((decodeMessage(encodeMessage(m, { ...key, id: 8 }), key) as { reason: string }).reason, 'bad-mac');
  const signed = encodeMessage(m, key);
  signed[9] = signed[9]! ^ 1; // the priority
  assert.is((decodeMessage(signed, key) as { reason: string }).reason, 'bad-mac');
  assert.ok(decodeMessage(encodeMessage(m, key), key).ok);
  assert.is(MsgType.Status, 2);
  assert.is(Role.Server, 2, "the seed's numbers: 0 None, 1 Client, 2 Server");
});

test.run();
