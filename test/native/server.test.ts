// The native fast-path server over real loopback sockets. Responses are
// compared field by field with the TypeScript reference (buildResponse);
// access control, rate limiting, authentication and malformed input are
// checked through the counters and what comes back (or does not).
import { readFileSync } from 'node:fs';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { parseKeyFile, signPacket, verifyBytes } from '../../src/ntp/auth.js';
import { decodePacket, encodePacket, emptyPacket, refIdText, type NtpPacket } from '../../src/ntp/packet.js';
import { ntp64ToUnixNs } from '../../src/ntp/time.js';
import { buildResponse, UNSYNCHRONISED, type ServerState } from '../../src/ntp/wire.js';
import { realtimeNs } from '../../src/native/clock.js';
import { NtpServer, SERVER_RCVBUF_BYTES } from '../../src/native/server.js';
import { encodeCidr } from '../../src/util/ip.js';
import { UdpEndpoint, type Datagram } from '../../src/native/udp.js';
import { seededRng } from '../../src/util/rng.js';
import { testSeed } from '../helpers/seed.js';
import { waitFor } from '../helpers/wait.js';

const S = 1_000_000_000n;
const STATE: ServerState = { leap: 0, stratum: 3, precisionLog2: -22, refId: 0x0a000005, referenceNs: 0n, rootDelayNs: 2_500_000, rootDispersionNs: 1_200_000 };
// The served clock: ten years behind the system clock and 50 ppm fast.
const OFFSET = -315_360_000n * S;
const FREQ = 50;

function model() {
  const sys = realtimeNs();
  return { refSysNs: sys, refNodeNs: sys + OFFSET, freqPpm: FREQ };
}
const toNode = (m: ReturnType<typeof model>, sys: bigint) => m.refNodeNs + (sys - m.refSysNs) + BigInt(Math.round(Number(sys - m.refSysNs) * FREQ * 1e-6));

function client(host = '127.0.0.1') {
  const got: Datagram[] = [];
  const ep = new UdpEndpoint({ address: host }, { onBatch: (b) => { for (let i = 0; i < b.count; i++) got.push(b.copy(i)); } });
  return { ep, got };
}

function request(rng: ReturnType<typeof seededRng>, over: Partial<NtpPacket> = {}): Uint8Array {
  return encodePacket({ ...emptyPacket(), version: 4, mode: 3, poll: 6, transmitTs: rng.u64() | 1n, ...over });
}

test('answers match the TypeScript reference field by field; stamps lie in the request window', async () => {
  const server = new NtpServer({ address: '127.0.0.1' });
  const m = model();
  const state = { ...STATE, referenceNs: m.refNodeNs - 30n * S };
  server.setState(state, m);
  const { ep, got } = client();
  const seed = testSeed(404);
  const rng = seededRng(seed);
  try {
    for (let i = 0; i < 200; i++) {
      const version = rng.int(1, 4);
      const mode = rng.float() < 0.8 ? 3 : 1;
      const req = request(rng, { version, mode, poll: rng.int(-6, 17) });
      const reqPkt = (decodePacket(req) as { packet: NtpPacket }).packet;
      const before = realtimeNs();
      ep.send(req, server.address().port, '127.0.0.1');
      await waitFor('answer', () => got.length === i + 1);
      const after = realtimeNs();
      const d = got[i]!;
      assert.ok(d.data.length <= req.length, 'no amplification');
      const resp = (decodePacket(d.data) as { packet: NtpPacket }).packet;
      const rx = ntp64ToUnixNs(resp.receiveTs, m.refNodeNs)!;
      const tx = ntp64ToUnixNs(resp.transmitTs, m.refNodeNs)!;
      const lo = toNode(m, before) - 1n, hi = toNode(m, after) + 1n;
      assert.ok(rx >= lo && rx <= tx && tx <= hi, `seed ${seed} #${i}: ${lo} <= rx ${rx} <= tx ${tx} <= ${hi}`);
      const ref = buildResponse(reqPkt, rx, tx, state)!;
      assert.equal({ ...resp, receiveTs: 0n, transmitTs: 0n }, { ...ref, receiveTs: 0n, transmitTs: 0n }, `seed ${seed} #${i} v${version} mode ${mode}`);
    }
    assert.is(server.counters().answered, 200n);
  } finally {
    ep.close();
    server.close();
  }
});

test('an unsynchronised server answers leap 3, stratum 16; until set, the state is unsynchronised', async () => {
  const server = new NtpServer({ address: '127.0.0.1' });
  const { ep, got } = client();
  const rng = seededRng(1);
  try {
    ep.send(request(rng), server.address().port, '127.0.0.1');
    server.setState(UNSYNCHRONISED, model());
    ep.send(request(rng), server.address().port, '127.0.0.1');
    await waitFor('answers', () => got.length === 2);
    for (const d of got) {
      const p = (decodePacket(d.data) as { packet: NtpPacket }).packet;
      assert.equal([p.leap, p.stratum, p.mode], [3, 16, 4]);
    }
  } finally {
    ep.close();
    server.close();
  }
});

test('access control: deny wins; a denied client gets one DENY KoD then silence; others are answered', async () => {
  const server = new NtpServer({ address: '0.0.0.0' });
  server.setState(STATE, model());
  server.setAccess({ allow: ['127.0.0.0/8'], deny: ['127.0.0.2/32'] });
  const denied = client('127.0.0.2');
  const allowed = client('127.0.0.3');
  const rng = seededRng(2);
  try {
    for (let i = 0; i < 5; i++) {
      denied.ep.send(request(rng), server.address().port, '127.0.0.1');
      allowed.ep.send(request(rng), server.address().port, '127.0.0.9');
    }
    await waitFor('allowed answers', () => allowed.got.length === 5);
    await new Promise((r) => setTimeout(r, 50));
    assert.is(denied.got.length, 1, 'one rationed KoD');
    const kod = (decodePacket(denied.got[0]!.data) as { packet: NtpPacket }).packet;
    assert.equal([kod.stratum, refIdText(kod.refId)], [0, 'DENY']);
    // The kernel would pick 127.0.0.1 as the source on its own: 127.0.0.9 comes from IP_PKTINFO.
    assert.is(allowed.got[0]!.peer.address, '127.0.0.9', 'answered from the address asked (IP_PKTINFO)');
    const c = server.counters();
    assert.equal([c.kodDeny, c.dropDenied, c.answered], [1n, 4n, 5n]);
    server.setAccess({ allow: ['10.0.0.0/8'], denyAction: 'drop' });
    allowed.ep.send(request(rng), server.address().port, '127.0.0.1');
    await waitFor('drop counted', () => server.counters().dropDenied === 5n);
  } finally {
    denied.ep.close();
    allowed.ep.close();
    server.close();
  }
});

test('rate limiting: a flood from one address gets its burst, one RATE KoD, then drops; another address is unaffected', async () => {
  const server = new NtpServer({ address: '0.0.0.0' });
  server.setState(STATE, model());
  server.setRateLimit({ intervalS: 1, burst: 8, kodIntervalS: 10 });
  const flood = client('127.0.0.4');
  const other = client('127.0.0.5');
  const rng = seededRng(3);
  try {
    const reqs = Array.from({ length: 100 }, () => request(rng));
    flood.ep.sendMany(reqs, server.address().port, '127.0.0.1');
    await waitFor('flood handled', () => server.counters().received >= 100n);
    for (let i = 0; i < 3; i++) other.ep.send(request(rng), server.address().port, '127.0.0.1');
    await waitFor('other answered', () => other.got.length === 3);
    await new Promise((r) => setTimeout(r, 50));
    const kods = flood.got.filter((d) => (decodePacket(d.data) as { packet: NtpPacket }).packet.stratum === 0);
    assert.is(flood.got.length, 9, '8 answers within the burst and one KoD');
    assert.is(kods.length, 1);
    assert.is(refIdText((decodePacket(kods[0]!.data) as { packet: NtpPacket }).packet.refId), 'RATE');
    const c = server.counters();
    assert.equal([c.answered, c.kodRate, c.dropRateLimited], [11n, 1n, 91n]);
  } finally {
    flood.ep.close();
    other.ep.close();
    server.close();
  }
});

test('authenticated requests: answers signed with the request\'s key (SHA1, AES128, MD5); bad MAC dropped; requireAuth', async () => {
  const keys = parseKeyFile('1 SHA1 HEX:933F62BE1D604E68A81B557F18CFA200483F5B70\n2 AES128 HEX:00112233445566778899AABBCCDDEEFF\n3 MD5 pw\n', 'k');
  const server = new NtpServer({ address: '127.0.0.1' });
  server.setState(STATE, model());
  server.setKeys(keys);
  const { ep, got } = client();
  const rng = seededRng(4);
  const port = server.address().port;
  try {
    for (const id of [1, 2, 3]) {
      const req = signPacket(request(rng), keys.get(id)!);
      ep.send(req, port, '127.0.0.1');
      await waitFor(`answer for key ${id}`, () => got.length === id);
      const d = got[id - 1]!;
      assert.is(d.data.length, req.length, 'the answer carries a MAC of the same size');
      assert.equal(verifyBytes(d.data, keys), { status: 'ok', keyId: id });
    }
    const forged = signPacket(request(rng), { id: 1, type: 'SHA1', secret: new Uint8Array(20) });
    ep.send(forged, port, '127.0.0.1');
    ep.send(signPacket(request(rng), { id: 99, type: 'MD5', secret: Uint8Array.of(1) }), port, '127.0.0.1');
    await waitFor('bad MACs counted', () => server.counters().dropBadMac === 2n);
    server.setKeys(keys, { requireAuth: true });
    ep.send(request(rng), port, '127.0.0.1');
    await waitFor('unauthenticated counted', () => server.counters().dropUnauthenticated === 1n);
    await new Promise((r) => setTimeout(r, 30));
    assert.is(got.length, 3, 'nothing answered but the three good requests');
  } finally {
    ep.close();
    server.close();
  }
});

test('malformed classes and modes 6/7 are counted and never answered; replies go to the slow path', async () => {
  const slow: Datagram[] = [];
  const server = new NtpServer({ address: '127.0.0.1', maxDatagram: 256 }, { onBatch: (b) => { for (let i = 0; i < b.count; i++) slow.push(b.copy(i)); } });
  server.setState(STATE, model());
  const { ep, got } = client();
  const rng = seededRng(5);
  const port = server.address().port;
  const ok = request(rng);
  const bad: Array<[string, Uint8Array]> = [
    ['short', ok.subarray(0, 20)],
    ['odd length', Uint8Array.from([...ok, 0, 0])],
    ['version 0', Uint8Array.from(ok, (v, i) => (i === 0 ? 0x03 : v))],
    ['version 5', Uint8Array.from(ok, (v, i) => (i === 0 ? 0x2b : v))],
    ['mode 0', Uint8Array.from(ok, (v, i) => (i === 0 ? 0x20 : v))],
    ['bad EF length', Uint8Array.from([...ok, 0, 1, 0, 12, ...new Array(24).fill(0)])],
    ['bad MAC length', Uint8Array.from([...ok, ...new Array(8).fill(1)])],
    ['truncated', new Uint8Array(400).fill(0x23, 0, 1)],
  ];
  try {
    for (const [, b] of bad) ep.send(b, port, '127.0.0.1');
    ep.send(Uint8Array.from(ok, (v, i) => (i === 0 ? 0x26 : v)), port, '127.0.0.1'); // mode 6
    ep.send(Uint8Array.from(ok, (v, i) => (i === 0 ? 0x27 : v)), port, '127.0.0.1'); // mode 7
    ep.send(Uint8Array.from(ok, (v, i) => (i === 0 ? 0x24 : v)), port, '127.0.0.1'); // mode 4: a reply
    ep.send(Uint8Array.from(ok, (v, i) => (i === 0 ? 0x25 : v)), port, '127.0.0.1'); // mode 5: a broadcast
    await waitFor('all counted', () => server.counters().received === 12n);
    await new Promise((r) => setTimeout(r, 30));
    const c = server.counters();
    assert.equal([c.dropMalformed, c.dropTruncated, c.dropUnsupportedMode, c.slowPath, c.answered], [7n, 1n, 2n, 2n, 0n]);
    assert.is(got.length, 0, 'nothing answered');
    assert.equal(slow.map((d) => d.data[0]! & 7), [4, 5]);
  } finally {
    ep.close();
    server.close();
  }
});

test('a server asks for a 1 MiB receive queue (the kernel grants up to rmem_max, doubled); a plain endpoint keeps the default', () => {
  const server = new NtpServer({ address: '127.0.0.1' });
  const plain = new UdpEndpoint({ address: '127.0.0.1' });
  const small = new NtpServer({ address: '127.0.0.1', receiveBufferBytes: 4096 });
  try {
    const max = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
    assert.is(server.receiveBufferBytes, 2 * Math.min(SERVER_RCVBUF_BYTES, max));
    assert.ok(plain.receiveBufferBytes < server.receiveBufferBytes || max <= plain.receiveBufferBytes / 2, `plain ${plain.receiveBufferBytes}`);
    assert.is(small.receiveBufferBytes, 2 * 4096, 'an explicit size wins');
    assert.throws(() => new UdpEndpoint({ address: '127.0.0.1', receiveBufferBytes: -1 }), /receiveBufferBytes must be an integer/);
  } finally {
    server.close();
    plain.close();
    small.close();
  }
});

test('CIDR encoding: IPv4 maps into ::ffff:0:0/96; bad input is a clear error', () => {
  assert.equal([...encodeCidr('10.1.0.0/16')], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 10, 1, 0, 0, 112]);
  assert.equal([...encodeCidr('fd00::1/8')].slice(0, 2).concat([encodeCidr('fd00::1/8')[15]!, encodeCidr('fd00::1/8')[16]!]), [0xfd, 0, 1, 8]);
  assert.is(encodeCidr('::1')[16], 128);
  assert.throws(() => encodeCidr('10.0.0.0/33'), /prefix/);
  assert.throws(() => encodeCidr('example.com/8'), /not an IP/);
});

test.run();
