// NTS sources in the pure sync core (src/sync/source.ts, client.ts): no
// request before NTS-KE, requests sealed with a cookie and enough
// placeholders to hold eight again, answers accepted only when they
// authenticate, a NAK starting NTS-KE over, failures backing off. The server
// side is src/ntp/nts.ts's; AES-256-GCM stands in for AES-SIV (no addon here).
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { checkRequest, CookieJar, EF_COOKIE, EF_COOKIE_PLACEHOLDER, MAX_COOKIES, nakResponse, sealResponse, type NtsKeys } from '../../src/ntp/nts.js';
import { decodePacket, encodePacket, type NtpPacket } from '../../src/ntp/packet.js';
import { buildResponse, type ServerState } from '../../src/ntp/wire.js';
import { SyncClient, type SyncAction } from '../../src/sync/client.js';
import { NTS_KE_RETRY_NS } from '../../src/sync/nts-source.js';
import { seededRng } from '../../src/util/rng.js';
import { gcmAead, randomUint8 } from '../helpers/gcm-aead.js';

const T0 = 1_800_000_000_000_000_000n;
const S = 1_000_000_000n;
const STATE: ServerState = { leap: 0, stratum: 2, precisionLog2: -24, refId: 1, referenceNs: T0 - S, rootDelayNs: 0, rootDispersionNs: 0 };
const decode = (b: Uint8Array): NtpPacket => (decodePacket(b) as { packet: NtpPacket }).packet;
const jar = new CookieJar([{ id: 3, key: randomUint8(32) }], gcmAead, randomUint8);
const keys: NtsKeys = { c2s: randomUint8(32), s2c: randomUint8(32) };
const session = (cookies: number) => ({
  keys,
  cookies: Array.from({ length: cookies }, () => jar.make(keys)),
  ntpAddress: '10.0.0.9',
  ntpPort: 1123,
});
const of = <T extends SyncAction['type']>(actions: SyncAction[], type: T) => actions.filter((a): a is Extract<SyncAction, { type: T }> => a.type === type);

function setup() {
  const rng = seededRng(5);
  const client = new SyncClient({ aead: gcmAead, localPrecisionLog2: -24 });
  client.addSource({ id: 'n', address: '10.0.0.1', port: 123, minPollLog2: 0, maxPollLog2: 4, nts: { port: 4460, serverName: 'time.lan' } }, 0n);
  return { rng, client, src: client.source('n')! };
}

/** The server's answer to `bytes` through the NTS core: sealed, a NAK, or null when it would be dropped. */
function answer(bytes: Uint8Array, mono: bigint, o: { nak?: boolean } = {}): Uint8Array | null {
  const req = decode(bytes);
  const r = checkRequest(bytes, req, jar);
  const header = buildResponse(req, T0 + mono + 100_000n, T0 + mono + 110_000n, STATE)!;
  if (o.nak || r.kind === 'nak') return nakResponse(header, r.kind === 'nts' || r.kind === 'nak' ? r.uniqueId : new Uint8Array(32));
  return r.kind === 'nts' ? sealResponse(header, r, jar) : null;
}

test('no request before NTS-KE; then one sealed request to the NTP server NTS-KE named, asking for cookies up to eight', () => {
  const { rng, client, src } = setup();
  const first = client.onTimer(0n, rng);
  assert.equal(of(first, 'nts-ke'), [{ type: 'nts-ke', sourceId: 'n', address: '10.0.0.1', port: 4460, serverName: 'time.lan' }]);
  assert.equal(of(first, 'send'), [], 'nothing to send without a cookie');
  assert.equal(of(client.onTimer(S, rng), 'nts-ke'), [], 'one NTS-KE run at a time');
  const after = client.onNtsSession('n', { session: session(2) }, 2n * S);
  assert.ok(
    of(after, 'timer').some((t) => t.atMonoNs <= 2n * S),
    'the poll is due at once',
  );
  const sends = of(client.onTimer(2n * S, rng), 'send');
  assert.is(sends.length, 1);
  assert.is(sends[0]!.address, '10.0.0.9');
  assert.is(sends[0]!.port, 1123);
  const req = decode(sends[0]!.bytes);
  assert.is(req.extensions.filter((f) => f.type === EF_COOKIE).length, 1);
  assert.is(req.extensions.filter((f) => f.type === EF_COOKIE_PLACEHOLDER).length, MAX_COOKIES - 2, 'one cookie left: six placeholders');
  assert.is(src.nts!.session!.cookies.length, 1);
});

test('an authenticated answer is a sample and refills the cookies to eight; an answer that does not authenticate is rejected', () => {
  const { rng, client, src } = setup();
  client.onTimer(0n, rng);
  client.onNtsSession('n', { session: session(2) }, 0n);
  const send = of(client.onTimer(0n, rng), 'send')[0]!;
  client.onSent('n', T0);
  // A plain answer (what a server without NTS sends): not authenticated, rejected.
  const plain = encodePacket(buildResponse(decode(send.bytes), T0 + 100_000n, T0 + 110_000n, STATE)!);
  const rejected = client.onResponse('n', plain, T0 + 200_000n, 1000n);
  assert.ok(
    rejected.some((a) => a.type === 'event' && a.event.kind === 'reject' && a.event.reason === 'test5-auth'),
    'plain answer rejected',
  );
  assert.is(src.nts!.counters.unauthenticated, 1);
  const ok = client.onResponse('n', answer(send.bytes, 0n)!, T0 + 200_000n, 2000n);
  assert.ok(
    ok.some((a) => a.type === 'event' && a.event.kind === 'sample'),
    'the sealed answer is a sample',
  );
  assert.is(src.nts!.session!.cookies.length, MAX_COOKIES);
  assert.is(src.counters.accepted, 1);
});

test('a NAK drops the session and NTS-KE runs again at the next poll', () => {
  const { rng, client, src } = setup();
  client.onTimer(0n, rng);
  client.onNtsSession('n', { session: session(4) }, 0n);
  const send = of(client.onTimer(0n, rng), 'send')[0]!;
  client.onSent('n', T0);
  client.onResponse('n', answer(send.bytes, 0n, { nak: true })!, T0 + 200_000n, 1000n);
  assert.is(src.nts!.session, null);
  assert.is(src.nts!.counters.naks, 1);
  const next = client.onTimer(2n * S, rng);
  assert.is(of(next, 'nts-ke').length, 1, 'NTS-KE again');
  assert.is(of(next, 'send').length, 0);
});

test('NTS-KE failures back off (2 s, 4 s, ...) and empty the reach register', () => {
  const { rng, client, src } = setup();
  src.reach = 0xff;
  let mono = 0n;
  for (const waitNs of [NTS_KE_RETRY_NS, 2n * NTS_KE_RETRY_NS, 4n * NTS_KE_RETRY_NS]) {
    assert.is(of(client.onTimer(mono, rng), 'nts-ke').length, 1, `a run at ${mono}`);
    client.onNtsSession('n', { error: 'ECONNREFUSED' }, mono);
    assert.is(client.nextWakeMonoNs(), mono + waitNs, 'the next run after the back-off');
    assert.is(of(client.onTimer(mono + waitNs - 1n, rng), 'nts-ke').length, 0, 'not before');
    mono += waitNs;
  }
  assert.is(src.nts!.counters.keFailures, 3);
  assert.is(src.reach, 0xf8, 'each failed run is a poll that got no time');
});

test('a source with NTS needs an AEAD', () => {
  const client = new SyncClient({});
  assert.throws(() => client.addSource({ id: 'x', address: '10.0.0.1', port: 123, nts: { port: 4460, serverName: null } }, 0n), /NTS needs an AEAD/);
});

test.run();
