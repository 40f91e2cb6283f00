// NTP broadcast mode in the pure cores: the mode-5 packet a server sends,
// the checks a broadcast must pass and the offset it gives (RFC 5905 §8,
// §9.2), and the client's broadcast association: mobilized by a valid
// broadcast, a volley of client requests to measure the delay, then samples
// from broadcasts alone.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { verifyBytes, type NtpKey } from '../../src/ntp/auth.js';
import { decodePacket, encodePacket } from '../../src/ntp/packet.js';
import { buildBroadcast, buildResponse, processBroadcast, UNSYNCHRONISED, type ServerState } from '../../src/ntp/wire.js';
import { MAX_BROADCAST_SOURCES, SyncClient } from '../../src/sync/client.js';
import { seededRng } from '../../src/util/rng.js';

const S = 1_000_000_000n;
const T0 = 1_795_219_200n * S;
const KEY: NtpKey = { id: 7, type: 'SHA1', secret: new Uint8Array(20).fill(3) };
const OTHER: NtpKey = { id: 7, type: 'SHA1', secret: new Uint8Array(20).fill(4) };
const STATE: ServerState = { leap: 0, stratum: 2, precisionLog2: -20, refId: 0x0a000001, referenceNs: T0, rootDelayNs: 1e5, rootDispersionNs: 1e5 };

test('buildBroadcast: mode 5, the interval as poll, zero origin and receive, the transmit time; nothing when unsynchronised', () => {
  const bytes = buildBroadcast(STATE, T0 + 5n * S, 6)!;
  const p = decodePacket(bytes);
  assert.ok(p.ok);
  if (!p.ok) return;
  assert.is(p.packet.mode, 5);
  assert.is(p.packet.poll, 6);
  assert.is(p.packet.stratum, 2);
  assert.is(p.packet.originTs, 0n);
  assert.is(p.packet.receiveTs, 0n);
  assert.is(bytes.length, 48);
  assert.is(buildBroadcast(UNSYNCHRONISED, T0, 6), null);
  const signed = buildBroadcast(STATE, T0, 6, KEY)!;
  assert.equal(verifyBytes(signed, new Map([[7, KEY]])), { status: 'ok', keyId: 7 });
});

test('processBroadcast: offset = t3 - t4 + delay/2; older, unsigned (when required), badly signed and non-broadcast packets refused', () => {
  const t3 = T0 + 1000n * S;
  const bytes = buildBroadcast(STATE, t3, 6, KEY)!;
  const keys = new Map([[7, KEY]]);
  // The client's clock is 2 ms behind: t4 = t3 + one-way 100 µs - 2 ms.
  const t4 = t3 + 100_000n - 2_000_000n;
  const r = processBroadcast(bytes, { lastTransmitTs: null, t4Ns: t4, delayNs: 200_000, localPrecisionLog2: -20, keys, requireAuth: true });
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.is(r.sample.offsetNs, 2_000_000n);
  assert.is(r.sample.delayNs, 200_000);
  const again = processBroadcast(bytes, { lastTransmitTs: r.packet.transmitTs, t4Ns: t4, delayNs: 200_000, localPrecisionLog2: -20, keys });
  assert.equal(again, { ok: false, reason: 'test1-duplicate' });
  const unsigned = buildBroadcast(STATE, t3, 6)!;
  assert.is(processBroadcast(unsigned, { lastTransmitTs: null, t4Ns: t4, delayNs: 0, localPrecisionLog2: -20, keys, requireAuth: true }).ok, false);
  assert.is(processBroadcast(unsigned, { lastTransmitTs: null, t4Ns: t4, delayNs: 0, localPrecisionLog2: -20, keys, requireAuth: false }).ok, true);
  const forged = buildBroadcast(STATE, t3, 6, OTHER)!;
  const f = processBroadcast(forged, { lastTransmitTs: null, t4Ns: t4, delayNs: 0, localPrecisionLog2: -20, keys, requireAuth: false });
  assert.equal(f, { ok: false, reason: 'test5-auth', detail: 'bad-mac' });
  const server = decodePacket(buildBroadcast(STATE, t3, 6)!);
  if (!server.ok) throw new Error('decode');
  const mode4 = encodePacket({ ...server.packet, mode: 4 });
  assert.equal(processBroadcast(mode4, { lastTransmitTs: null, t4Ns: t4, delayNs: 0, localPrecisionLog2: -20 }), { ok: false, reason: 'bad-mode' });
});

test('broadcast association: a volley of client requests measures the delay, then broadcasts alone keep the client within a few µs', () => {
  const rng = seededRng(5);
  const keys = new Map([[7, KEY]]);
  const client = new SyncClient({ keys, localPrecisionLog2: -24, firstStepThresholdNs: 1e6 });
  const from = { address: '192.0.2.9', port: 123 };
  const clientOffset = -3_000_000n; // the client's clock reads 3 ms behind true time
  const oneWay = 150_000n;
  let mono = 0n;
  let T = T0;
  const local = () => T + clientOffset;
  // The first broadcast mobilizes the source; its polls (the volley) follow.
  let actions = client.onBroadcast(buildBroadcast(STATE, T, 4, KEY)!, from, local() + oneWay, mono, { requireAuth: true });
  const id = 'broadcast:192.0.2.9:123';
  assert.ok(client.source(id), 'mobilized');
  let volley = 0;
  for (let round = 0; round < 12 && !client.source(id)!.listening; round++) {
    mono += S;
    T += S;
    actions = client.onTimer(mono, rng);
    for (const a of actions) {
      if (a.type !== 'send') continue;
      volley++;
      client.onSent(a.sourceId, local());
      const req = decodePacket(a.bytes);
      if (!req.ok) throw new Error('request');
      const resp = buildResponse(req.packet, T + oneWay, T + oneWay + 10_000n, STATE)!;
      client.onResponse(a.sourceId, encodePacket(resp), local() + 2n * oneWay + 10_000n, mono);
    }
  }
  const src = client.source(id)!;
  assert.ok(src.listening, 'listening after the volley');
  assert.ok(volley >= 4 && volley <= 5, `volley of ${volley} requests`);
  assert.is(src.broadcastDelayNs, 300_000);
  // From now on no requests; broadcasts every 16 s carry the time.
  let sends = 0;
  let lastOffset = 0n;
  for (let i = 0; i < 10; i++) {
    mono += 16n * S;
    T += 16n * S;
    for (const a of client.onTimer(mono, rng)) if (a.type === 'send') sends++;
    for (const a of client.onBroadcast(buildBroadcast(STATE, T, 4, KEY)!, from, local() + oneWay, mono, { requireAuth: true })) {
      if (a.type === 'event' && a.event.kind === 'sample') lastOffset = a.event.offsetNs;
    }
  }
  assert.is(sends, 0, 'a listening source sends nothing');
  assert.ok(lastOffset > 2_990_000n && lastOffset < 3_010_000n, `offset ${lastOffset} ns`);
  assert.is(client.broadcastCounters.rejected, 0);
  // Silence: after eight unheard intervals the association ends.
  for (let i = 0; i < 10; i++) {
    mono += 16n * S;
    client.onTimer(mono, rng);
  }
  assert.ok(src.demobilized, 'demobilized when the broadcasts stop');
});

test(`broadcast sources are capped at ${MAX_BROADCAST_SOURCES}; a forged broadcast mobilizes nothing`, () => {
  const keys = new Map([[7, KEY]]);
  const client = new SyncClient({ keys });
  for (let i = 0; i < 20; i++)
    client.onBroadcast(buildBroadcast(STATE, T0, 6, KEY)!, { address: `192.0.2.${i + 1}`, port: 123 }, T0, 0n, { requireAuth: true });
  assert.is(client.sources().length, MAX_BROADCAST_SOURCES);
  client.onBroadcast(buildBroadcast(STATE, T0, 6, OTHER)!, { address: '198.51.100.1', port: 123 }, T0, 0n, { requireAuth: false });
  assert.is(client.sources().length, MAX_BROADCAST_SOURCES);
  assert.is(client.broadcastCounters.rejected, 1);
});

test.run();
