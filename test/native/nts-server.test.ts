// NTS in the native fast path (native/nts_server.cc) over real loopback
// sockets: requests sealed by the TypeScript client core (src/ntp/nts.ts)
// with cookies from its CookieJar, answered in C++; the answers checked by
// the same core. Fresh cookies, NAKs, drops, master-key rotation, plain
// requests beside NTS ones, and require_auth.
import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { realtimeNs } from '../../src/native/clock.js';
import { sivAead, sivSeal } from '../../src/native/nts-aead.js';
import { NtpServer } from '../../src/native/server.js';
import { UdpEndpoint, type Datagram } from '../../src/native/udp.js';
import { COOKIE_BYTES, CookieJar, EF_AUTHENTICATOR, EF_COOKIE, EF_UNIQUE_ID, openResponse, sealRequest, type MasterKey, type NtsKeys } from '../../src/ntp/nts.js';
import { decodePacket, emptyPacket, encodePacket, kissCode, Mode, type NtpPacket } from '../../src/ntp/packet.js';
import type { ServerState } from '../../src/ntp/wire.js';
import { waitFor } from '../helpers/wait.js';

const aead = sivAead;
const random = (n: number) => new Uint8Array(randomBytes(n));
const master = (id: number): MasterKey => ({ id, key: random(32) });
const newKeys = (): NtsKeys => ({ c2s: random(32), s2c: random(32) });
const STATE: ServerState = { leap: 0, stratum: 2, precisionLog2: -22, refId: 0x7f000001, referenceNs: 0n, rootDelayNs: 1_000_000, rootDispersionNs: 1_000_000 };

function setup(keys: MasterKey[], opts: { requireAuth?: boolean } = {}) {
  const server = new NtpServer({ address: '127.0.0.1' });
  const sys = realtimeNs();
  server.setState({ ...STATE, referenceNs: sys }, { refSysNs: sys, refNodeNs: sys, freqPpm: 0 });
  server.setNtsKeys(keys);
  if (opts.requireAuth) server.setKeys(new Map(), { requireAuth: true });
  const got: Datagram[] = [];
  const ep = new UdpEndpoint({ address: '127.0.0.1' }, { onBatch: (b) => { for (let i = 0; i < b.count; i++) got.push(b.copy(i)); } });
  const port = server.address().port;
  let seq = 1n;
  /** Sends one datagram; the answer, or null when none came within 300 ms. */
  async function ask(bytes: Uint8Array): Promise<Uint8Array | null> {
    const before = got.length;
    ep.send(bytes, port, '127.0.0.1');
    try {
      await waitFor('answer', () => got.length > before, 300);
    } catch {
      return null;
    }
    return got[before]!.data;
  }
  const header = (): NtpPacket => ({ ...emptyPacket(), version: 4, mode: Mode.Client, transmitTs: (0x1234n << 48n) + 2n * seq++ });
  return {
    server,
    ask,
    header,
    close() {
      ep.close();
      server.close();
    },
  };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const hexKeys = (k: NtsKeys | null) => k && { c2s: hex(k.c2s), s2c: hex(k.s2c) };

/** A request with exactly these fields before a valid authenticator under `c2s` (what sealRequest would not build). */
function sealFields(h: NtpPacket, fields: NtpPacket['extensions'], c2s: Uint8Array): Uint8Array {
  const ad = encodePacket({ ...h, extensions: fields, mac: null });
  const nonce = random(16);
  const sealed = sivSeal(c2s, nonce, ad, new Uint8Array(0));
  const auth = new Uint8Array(4 + 4 + 16 + sealed.length);
  auth.set([EF_AUTHENTICATOR >> 8, EF_AUTHENTICATOR & 0xff, auth.length >> 8, auth.length & 0xff, 0, 16, 0, sealed.length]);
  auth.set(nonce, 8);
  auth.set(sealed, 24);
  return Buffer.concat([ad, auth]);
}

function parse(b: Uint8Array): NtpPacket {
  const d = decodePacket(b);
  if (!d.ok) throw new Error(`does not decode: ${d.reason}`);
  return d.packet;
}

test('an NTS request is answered in C++: authenticated under S2C, its identifier echoed, one fresh cookie per cookie and placeholder', async () => {
  const mk = master(7);
  const jar = new CookieJar([mk], aead, random);
  const s = setup([mk]);
  try {
    for (const placeholders of [0, 1, 3, 7, 9]) {
      const keys = newKeys();
      const h = s.header();
      const { bytes, pending } = sealRequest(h, { keys, cookie: jar.make(keys), placeholders, aead, random });
      const answer = await s.ask(bytes);
      assert.ok(answer, `an answer (${placeholders} placeholders)`);
      assert.ok(answer.length <= bytes.length, `no amplification: ${answer.length} > ${bytes.length}`);
      const r = openResponse(answer, pending, aead);
      assert.ok(r.ok, `authenticated: ${r.ok || r.reason}`);
      assert.is(r.packet.mode, Mode.Server);
      assert.is(r.packet.originTs, h.transmitTs, 'origin = our transmit');
      assert.is(r.packet.stratum, 2);
      assert.is(r.cookies.length, Math.min(8, 1 + placeholders));
      for (const c of r.cookies) {
        assert.is(c.length, COOKIE_BYTES);
        assert.equal(hexKeys(jar.open(c)), hexKeys(keys), 'each new cookie carries this client’s keys, under the current master key');
      }
      // Every cookie is new: nonces differ.
      assert.is(new Set(r.cookies.map((c) => Buffer.from(c).toString('hex'))).size, r.cookies.length);
    }
    const c = s.server.counters();
    assert.is(c.answeredNts, 5n);
    assert.is(c.answered, 5n);
    assert.is(c.ntsNak, 0n);
  } finally {
    s.close();
  }
});

test('NAKs: a cookie under an unknown master key, a forged cookie, a request sealed under the wrong key; each echoes the identifier', async () => {
  const mk = master(1);
  const jar = new CookieJar([mk], aead, random);
  const other = new CookieJar([master(2)], aead, random);
  const s = setup([mk]);
  try {
    const keys = newKeys();
    const forged = jar.make(keys);
    forged[40]! ^= 1;
    const cases: [string, Uint8Array, NtsKeys][] = [
      ['unknown master key', other.make(keys), keys],
      ['forged cookie', forged, keys],
      ['wrong C2S', jar.make(keys), newKeys()],
    ];
    for (const [what, cookie, sealWith] of cases) {
      const { bytes, pending } = sealRequest(s.header(), { keys: sealWith, cookie, placeholders: 0, aead, random });
      const answer = await s.ask(bytes);
      assert.ok(answer, what);
      const p = parse(answer);
      assert.is(kissCode(p), 'NTSN', what);
      assert.is(p.stratum, 0);
      assert.equal(p.extensions.map((f) => f.type), [EF_UNIQUE_ID], `${what}: the identifier only`);
      assert.is(openResponse(answer, pending, aead).ok, false);
      assert.equal(openResponse(answer, pending, aead), { ok: false, reason: 'nak' });
    }
    assert.is(s.server.counters().ntsNak, 3n);
    assert.is(s.server.counters().answeredNts, 0n);
  } finally {
    s.close();
  }
});

test('nonsense NTS fields are dropped and counted: no identifier, two cookies, authenticator not last, a short placeholder', async () => {
  const mk = master(1);
  const jar = new CookieJar([mk], aead, random);
  const s = setup([mk]);
  try {
    const keys = newKeys();
    const good = sealRequest(s.header(), { keys, cookie: jar.make(keys), placeholders: 1, aead, random });
    const p = parse(good.bytes);
    const variants: [string, NtpPacket][] = [
      ['no identifier', { ...p, extensions: p.extensions.filter((f) => f.type !== EF_UNIQUE_ID) }],
      ['two cookies', { ...p, extensions: [p.extensions[0]!, p.extensions[1]!, p.extensions[1]!, ...p.extensions.slice(2)] }],
      ['authenticator not last', { ...p, extensions: [...p.extensions, { type: 0x7777, body: new Uint8Array(28) }] }],
      ['an authenticator without a cookie', { ...p, extensions: p.extensions.filter((f) => f.type !== EF_COOKIE) }],
    ];
    for (const [what, v] of variants) assert.is(await s.ask(encodePacket(v)), null, what);
    // A placeholder shorter than the cookie, in a request that authenticates (§5.5: the answer would outgrow it).
    const asSent = p.extensions.filter((f) => f.type !== EF_AUTHENTICATOR);
    const resealed = await s.ask(sealFields(s.header(), asSent, keys.c2s));
    assert.ok(openResponse(resealed!, good.pending, aead).ok, 'the same fields resealed by the helper authenticate');
    const fields = asSent.map((f) => (f.type === 0x0304 ? { ...f, body: new Uint8Array(16) } : f));
    assert.is(await s.ask(sealFields(s.header(), fields, keys.c2s)), null, 'short placeholder');
    assert.is(s.server.counters().dropNts, BigInt(variants.length + 1));
    // The good one still works after all that.
    assert.ok(openResponse((await s.ask(good.bytes))!, good.pending, aead).ok);
  } finally {
    s.close();
  }
});

test('master keys rotate: old cookies open through two rotations and are NAKed after the third; fresh ones are under the newest key', async () => {
  const k1 = master(1), k2 = master(2), k3 = master(3), k4 = master(4);
  const jar1 = new CookieJar([k1], aead, random);
  const newest = new CookieJar([k3, k2, k1], aead, random);
  const s = setup([k1]);
  try {
    const keys = newKeys();
    const old = jar1.make(keys);
    const once = async () => {
      const { bytes, pending } = sealRequest(s.header(), { keys, cookie: old, placeholders: 0, aead, random });
      return openResponse((await s.ask(bytes))!, pending, aead);
    };
    s.server.setNtsKeys([k2, k1]);
    s.server.setNtsKeys([k3, k2, k1]);
    const r = await once();
    assert.ok(r.ok, 'two rotations on, the first key still opens');
    assert.is(new DataView(r.cookies[0]!.buffer, r.cookies[0]!.byteOffset).getUint32(0), 3, 'the fresh cookie is under key 3');
    assert.equal(hexKeys(newest.open(r.cookies[0]!)), hexKeys(keys));
    s.server.setNtsKeys([k4, k3, k2]);
    assert.equal(await once(), { ok: false, reason: 'nak' }, 'after the third rotation: NAK');
  } finally {
    s.close();
  }
});

test('plain requests beside NTS ones: answered as before; with requireAuth only NTS (or MAC) requests are; with no master keys NTS fields are ignored', async () => {
  const mk = master(1);
  const jar = new CookieJar([mk], aead, random);
  const s = setup([mk], { requireAuth: true });
  try {
    const plain = encodePacket(s.header());
    assert.is(await s.ask(plain), null, 'requireAuth drops a plain request');
    const keys = newKeys();
    const { bytes, pending } = sealRequest(s.header(), { keys, cookie: jar.make(keys), placeholders: 0, aead, random });
    assert.ok(openResponse((await s.ask(bytes))!, pending, aead).ok, 'an NTS request is authenticated');
    assert.is(s.server.counters().dropUnauthenticated, 1n);
    s.server.setKeys(new Map(), { requireAuth: false });
    assert.ok(await s.ask(plain), 'a plain request is answered');
    s.server.setNtsKeys([]);
    const again = sealRequest(s.header(), { keys, cookie: jar.make(keys), placeholders: 0, aead, random });
    const answer = (await s.ask(again.bytes))!;
    assert.equal(parse(answer).extensions, [], 'NTS off: answered as plain NTP, its fields ignored');
    assert.equal(openResponse(answer, again.pending, aead), { ok: false, reason: 'not-ours' });
  } finally {
    s.close();
  }
});

test('a rate-limit KoD to an NTS request is authenticated like an answer (a client ignores an unauthenticated one)', async () => {
  const mk = master(1);
  const jar = new CookieJar([mk], aead, random);
  const s = setup([mk]);
  try {
    s.server.setRateLimit({ intervalS: 60, burst: 1, kodIntervalS: 0.001 });
    const keys = newKeys();
    const ask = async () => {
      const { bytes, pending } = sealRequest(s.header(), { keys, cookie: jar.make(keys), placeholders: 0, aead, random });
      return openResponse((await s.ask(bytes))!, pending, aead);
    };
    const first = await ask();
    assert.ok(first.ok && first.packet.stratum === 2, 'within the burst: time');
    await new Promise((r) => setTimeout(r, 5));
    const kod = await ask();
    assert.ok(kod.ok, 'the KoD authenticates');
    assert.is(kod.packet.stratum, 0);
    assert.is(kissCode(kod.packet), 'RATE');
    assert.is(s.server.counters().kodRate, 1n);
  } finally {
    s.close();
  }
});

test('setNtsKeys checks its argument', () => {
  const s = setup([]);
  try {
    assert.throws(() => s.server.setNtsKeys([{ id: 1, key: new Uint8Array(16) }]), /32 bytes/);
    assert.throws(() => s.server.setNtsKeys([{ id: -1, key: new Uint8Array(32) }]), /32-bit/);
    assert.throws(() => s.server.setNtsKeys([master(1), master(2), master(3), master(4)]), /at most 3/);
  } finally {
    s.close();
  }
});

test.run();
