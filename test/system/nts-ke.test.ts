// Our NTS-KE server over real TLS on loopback, with a certificate made here
// (openssl): our client gets 8 cookies that open in the server's jar to the
// very keys the client exported; a request without a Next Protocol record
// gets an Error record (Bad Request); a client without ALPN ntske/1 is cut off.
import { randomBytes } from 'node:crypto';
import tls from 'node:tls';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { fetchNtsSession } from '../../src/daemon/nts-ke-client.js';
import { startNtsKeServer, type NtsKeServer } from '../../src/daemon/nts-ke-server.js';
import { sivAead } from '../../src/native/nts-aead.js';
import { decodeRecords, encodeRecords, KeErrorCode, KeRecordType, NTS_KE_ALPN } from '../../src/ntp/nts-ke.js';
import { CookieJar } from '../../src/ntp/nts.js';
import { datedCerts, hasPythonCryptography, selfSignedCert } from '../helpers/certs.js';
import { need, testIf } from '../helpers/tools.js';

const enabled = need('openssl', 'certificates for the NTS-KE test');
const t = testIf(enabled, 'openssl is not installed');
const jar = new CookieJar([{ id: 1, key: new Uint8Array(randomBytes(32)) }], sivAead, (n) => new Uint8Array(randomBytes(n)));
let server: NtsKeServer | null = null;
let cert = '';

test.before(async () => {
  if (!enabled) return;
  const c = selfSignedCert();
  cert = c.cert;
  server = await startNtsKeServer({ host: '127.0.0.1', port: 0, cert, key: c.key, jar, ntpPort: 11123 });
});
test.after(async () => {
  await server?.close();
});

t('our client and server: 8 cookies carrying the keys the client exported, and the NTP port', async () => {
  const s = await fetchNtsSession({ host: '127.0.0.1', port: server!.port, ca: cert, servername: 'localhost' });
  assert.is(s.cookies.length, 8);
  assert.is(s.ntpPort, 11123);
  assert.is(s.ntpServer, '127.0.0.1');
  for (const c of s.cookies) {
    const k = jar.open(c)!;
    assert.ok(k, 'the cookie opens in the server jar');
    assert.ok(Buffer.from(k.c2s).equals(Buffer.from(s.keys.c2s)) && Buffer.from(k.s2c).equals(Buffer.from(s.keys.s2c)), 'the same keys on both sides');
  }
  assert.not.ok(Buffer.from(s.keys.c2s).equals(Buffer.from(s.keys.s2c)), 'two directions, two keys');
  assert.is(server!.counters.sessions, 1);
});

/** Raw TLS: send `bytes`, collect what comes back until the server closes. */
function raw(bytes: Uint8Array, alpn: string[]): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = tls.connect({ host: '127.0.0.1', port: server!.port, ca: cert, servername: 'localhost', ALPNProtocols: alpn }, () => s.write(bytes));
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', () => resolve(Buffer.concat(chunks)));
    s.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

t('a request without a Next Protocol record gets an Error record, Bad Request (RFC 8915 §4.1.3)', async () => {
  const bad = encodeRecords([
    { critical: false, type: KeRecordType.AeadAlgorithm, body: Uint8Array.of(0, 15) },
    { critical: true, type: KeRecordType.EndOfMessage, body: new Uint8Array(0) },
  ]);
  const got = decodeRecords(await raw(bad, [NTS_KE_ALPN]));
  assert.ok(got.done);
  assert.is(got.records[0]!.type, KeRecordType.Error);
  assert.equal(Array.from(got.records[0]!.body), [0, KeErrorCode.BadRequest]);
});

t('a client that does not ask for ntske/1 gets nothing', async () => {
  const errorsBefore = server!.counters.errors;
  const got = await raw(encodeRecords([{ critical: true, type: KeRecordType.EndOfMessage, body: new Uint8Array(0) }]), ['http/1.1']);
  assert.is(got.length, 0);
  assert.ok(server!.counters.errors + server!.counters.tlsFailures > errorsBefore);
});

/** The promise rejects with a message matching `re`. */
async function rejects(fn: () => Promise<unknown>, re: RegExp, what: string): Promise<void> {
  const r = await fn().then(
    () => null,
    (e: unknown) => e as Error,
  );
  assert.ok(r, `${what}: it did not fail`);
  assert.match(r.message, re, what);
}

const dated = testIf(enabled && hasPythonCryptography(), "Python's cryptography is not installed (dated certificates)");

dated('the first-boot rule: a certificate not yet valid is refused, and accepted with ignoreCertDates only when its chain and name check out', async () => {
  // Valid from next year: what a board at its factory date sees of every certificate (its clock before notBefore).
  const year = new Date().getUTCFullYear();
  const c = datedCerts({ ips: ['127.0.0.1'], notBefore: `${year + 1}-01-01T00:00:00Z`, notAfter: `${year + 2}-01-01T00:00:00Z` });
  const servers: NtsKeServer[] = [];
  const serve = async (leaf: { cert: string; key: string }) => {
    const s = await startNtsKeServer({ host: '127.0.0.1', port: 0, cert: leaf.cert, key: leaf.key, jar, ntpPort: 11123 });
    servers.push(s);
    return s.port;
  };
  try {
    const good = await serve(c.leaf);
    const rogue = await serve(c.rogue);
    await rejects(() => fetchNtsSession({ host: '127.0.0.1', port: good, ca: c.ca }), /CERT_NOT_YET_VALID/, 'dates enforced by default');
    const s = await fetchNtsSession({ host: '127.0.0.1', port: good, ca: c.ca, ignoreCertDates: true });
    assert.is(s.cookies.length, 8, 'first boot: the chain to the CA checks out, the dates are not judged');
    await rejects(
      () => fetchNtsSession({ host: '127.0.0.1', port: rogue, ca: c.ca, ignoreCertDates: true }),
      /not trusted/,
      'a certificate from another CA under the same names is refused, dates or not',
    );
    await rejects(
      () => fetchNtsSession({ host: '127.0.0.1', port: good, ca: c.ca, ignoreCertDates: true, servername: 'elsewhere.example' }),
      /not trusted/,
      'the name still counts',
    );
    await rejects(
      () => fetchNtsSession({ host: '127.0.0.1', port: good, ignoreCertDates: true }),
      /not trusted/,
      "without our CA (the system's roots) the chain does not end at a trusted CA",
    );
  } finally {
    for (const s of servers) await s.close();
  }
});

test.run();
