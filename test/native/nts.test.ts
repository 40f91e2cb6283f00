// NTS-protected NTP (RFC 8915 §5) end to end through the pure core with the
// native AEAD: a client's sealed request, the server's check and answer with
// fresh cookies, the client's check; forgeries, NAKs, foreign answers and
// master-key rotation.
import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { sivAead } from '../../src/native/nts-aead.js';
import {
  checkRequest,
  COOKIE_BYTES,
  CookieJar,
  EF_UNIQUE_ID,
  nakResponse,
  openResponse,
  sealRequest,
  sealResponse,
  type NtsKeys,
} from '../../src/ntp/nts.js';
import { decodePacket, emptyPacket, kissCode, Mode, type NtpPacket } from '../../src/ntp/packet.js';

const aead = sivAead;
const random = (n: number) => new Uint8Array(randomBytes(n));
const keys = (): NtsKeys => ({ c2s: random(32), s2c: random(32) });
const jar = () => new CookieJar([{ id: 1, key: random(32) }], aead, random);
const request: NtpPacket = { ...emptyPacket(), version: 4, mode: Mode.Client, transmitTs: 0x12345678_9abcdef0n };
const response: NtpPacket = { ...emptyPacket(), version: 4, mode: Mode.Server, stratum: 2, originTs: 0x12345678_9abcdef0n };

function parse(b: Uint8Array): NtpPacket {
  const d = decodePacket(b);
  if (!d.ok) throw new Error(`does not decode: ${d.reason}`);
  return d.packet;
}

test('a sealed request is checked by the server, answered with fresh cookies, and the answer opens for the client', () => {
  const j = jar();
  const k = keys();
  const cookie = j.make(k);
  assert.is(cookie.length, COOKIE_BYTES);
  for (const placeholders of [0, 1, 7]) {
    const { bytes, pending } = sealRequest(request, { keys: k, cookie, placeholders, aead, random });
    const req = checkRequest(bytes, parse(bytes), j);
    assert.is(req.kind, 'nts');
    if (req.kind !== 'nts') return;
    assert.ok(Buffer.from(req.keys.c2s).equals(Buffer.from(k.c2s)) && Buffer.from(req.keys.s2c).equals(Buffer.from(k.s2c)));
    assert.is(req.cookiesWanted, 1 + placeholders);
    const answer = sealResponse(response, req, j);
    assert.ok(answer.length <= bytes.length, `the answer (${answer.length} bytes) is no larger than the request (${bytes.length})`);
    const got = openResponse(answer, pending, aead);
    assert.ok(got.ok, got.ok ? '' : got.reason);
    if (!got.ok) return;
    assert.is(got.packet.originTs, response.originTs);
    assert.is(got.cookies.length, 1 + placeholders);
    // Each new cookie carries the same keys, and no two are alike.
    for (const c of got.cookies) assert.ok(Buffer.from(j.open(c)!.s2c).equals(Buffer.from(k.s2c)));
    assert.is(new Set(got.cookies.map((c) => Buffer.from(c).toString('hex'))).size, got.cookies.length);
  }
});

test('forgeries: a changed request is dropped, an unknown cookie gets a NAK, a changed or foreign answer is refused', () => {
  const j = jar();
  const k = keys();
  const { bytes, pending } = sealRequest(request, { keys: k, cookie: j.make(k), placeholders: 2, aead, random });
  for (const at of [1, 40, 60, 150]) {
    const bad = Uint8Array.from(bytes);
    bad[at]! ^= 0x01;
    const d = decodePacket(bad);
    if (!d.ok) continue;
    const r = checkRequest(bad, d.packet, j);
    assert.ok(r.kind === 'drop' || r.kind === 'nak', `byte ${at}: ${r.kind}`);
  }
  // Another server's cookie (or one from before too many rotations): a NAK echoing the identifier.
  const other = sealRequest(request, { keys: k, cookie: jar().make(k), placeholders: 0, aead, random });
  const nak = checkRequest(other.bytes, parse(other.bytes), j);
  assert.is(nak.kind, 'nak');
  if (nak.kind === 'nak') {
    const n = nakResponse(response, nak.uniqueId);
    assert.is(kissCode(parse(n)), 'NTSN');
    assert.equal(openResponse(n, other.pending, aead), { ok: false, reason: 'nak' });
  }
  const req = checkRequest(bytes, parse(bytes), j);
  if (req.kind !== 'nts') throw new Error(req.kind);
  const answer = sealResponse(response, req, j);
  const changed = Uint8Array.from(answer);
  changed[20]! ^= 0x80; // the reference timestamp
  assert.equal(openResponse(changed, pending, aead), { ok: false, reason: 'unauthenticated' });
  assert.equal(openResponse(answer, other.pending, aead), { ok: false, reason: 'not-ours' });
  const p = parse(answer);
  assert.ok(p.extensions.some((f) => f.type === EF_UNIQUE_ID));
  assert.is(checkRequest(Uint8Array.from(answer.subarray(0, 48)), { ...p, extensions: [], mac: null }, j).kind, 'plain', 'no NTS fields: plain NTP');
});

test('master keys rotate: a cookie opens through two rotations, not three', () => {
  const j = jar();
  const k = keys();
  const cookie = j.make(k);
  j.rotate({ id: 2, key: random(32) });
  j.rotate({ id: 3, key: random(32) });
  assert.ok(j.open(cookie), 'after two rotations');
  assert.equal(
    j.keys.map((m) => m.id),
    [3, 2, 1],
  );
  j.rotate({ id: 4, key: random(32) });
  assert.is(j.open(cookie), null, 'after three');
  assert.ok(j.open(j.make(k)), 'a new cookie opens');
});

test.run();
