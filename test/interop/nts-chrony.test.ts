// NTS against a real peer: Debian's chronyd (built +NTS, `chronyd -x`) as the
// NTS-KE and NTP server, a certificate made here with openssl. Our KE client
// gets its cookies and exports the keys; our NTS request (src/ntp/nts.ts,
// the native AEAD) is answered, authenticated and carries fresh cookies; a
// cookie chrony cannot open, or a request sealed with the wrong key, gets an
// NTS NAK. Then chronyd as the client: KE with our server, NTS requests that
// authenticate with our cookies, answered through our core, and selected.
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { fetchNtsSession, type NtsSession } from '../../src/daemon/nts-ke-client.js';
import { startNtsKeServer, type NtsKeServer } from '../../src/daemon/nts-ke-server.js';
import { sivOpen, sivSeal } from '../../src/native/nts-aead.js';
import { checkRequest, CookieJar, openResponse, sealRequest, sealResponse, type NtsAnswer } from '../../src/ntp/nts.js';
import { decodePacket, emptyPacket, Mode } from '../../src/ntp/packet.js';
import { unixNsToNtp64 } from '../../src/ntp/time.js';
import { selfSignedCert } from '../helpers/certs.js';
import { freePort, startChronyd, type Chronyd } from '../helpers/chrony.js';
import { need, testIf } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait.js';

const aead = { seal: sivSeal, open: sivOpen };
const random = (n: number) => new Uint8Array(randomBytes(n));
const enabled = need('chronyd', 'NTS interop with chrony') && need('openssl', 'certificates for the NTS interop test');
const t = testIf(enabled, 'chronyd or openssl is not installed');

let chrony: Chronyd | null = null;
let kePort = 0;
let cert = '';

test.before(async () => {
  if (!enabled) return;
  kePort = freePort();
  const files = certFiles();
  cert = files['cert.pem'];
  chrony = await startChronyd(
    [
      'local stratum 8',
      'allow 127.0.0.0/8',
      `ntsport ${kePort}`,
      'ntsserverkey $DIR/key.pem',
      'ntsservercert $DIR/cert.pem',
      'ntsdumpdir $DIR',
      'ntsprocesses 0',
    ],
    files,
  );
});
test.after(async () => {
  await chrony?.stop();
});

/** chronyd's key and certificate files. */
function certFiles(): Record<string, string> {
  const c = selfSignedCert();
  return { 'key.pem': c.key, 'cert.pem': c.cert };
}

async function session(): Promise<NtsSession> {
  // NTS-KE may come up a moment after chronyd's first log line.
  for (let i = 0; ; i++) {
    try {
      return await fetchNtsSession({ host: '127.0.0.1', port: kePort, ca: cert, servername: 'localhost', timeoutMs: 2000 });
    } catch (e) {
      if (i >= 20) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** One datagram to chrony's NTP port and its answer (or null after 700 ms). */
async function exchange(bytes: Uint8Array, port: number): Promise<Buffer | null> {
  const s = dgram.createSocket('udp4');
  try {
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    const got = new Promise<Buffer | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), 700);
      s.on('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
    s.send(bytes, port, '127.0.0.1');
    return await got;
  } finally {
    s.close();
  }
}

// A random transmit timestamp: chrony echoes it as the origin, which is all a client checks it by.
const request = () => ({ ...emptyPacket(), version: 4, mode: Mode.Client, transmitTs: BigInt(`0x${randomBytes(8).toString('hex')}`) });

t("NTS-KE with chronyd: TLS 1.3, ALPN ntske/1, 8 cookies, chrony's NTP port; the exported keys work", async () => {
  const s = await session();
  assert.is(s.cookies.length, 8);
  assert.is(s.ntpPort, chrony!.port, 'chrony names its NTP port (not 123)');
  assert.is(s.ntpServer, '127.0.0.1');
  assert.is(s.keys.c2s.length, 32);
  const header = request();
  const { bytes, pending } = sealRequest(header, { keys: s.keys, cookie: s.cookies[0]!, placeholders: 2, aead, random });
  const reply = await exchange(bytes, s.ntpPort);
  assert.ok(reply, 'chronyd answered the NTS request');
  const got: NtsAnswer = openResponse(reply!, pending, aead);
  assert.ok(got.ok, got.ok ? '' : `our check of the answer: ${got.reason}`);
  if (!got.ok) return;
  assert.is(got.packet.originTs, header.transmitTs, 'the answer is to our request');
  assert.is(got.packet.stratum, 8);
  assert.is(got.cookies.length, 3, 'one cookie for the one spent, one per placeholder');
});

t('a cookie chronyd cannot open, or a request sealed under the wrong key, gets an NTS NAK (RFC 8915 §5.7)', async () => {
  const s = await session();
  const forged = sealRequest(request(), { keys: s.keys, cookie: random(s.cookies[0]!.length), placeholders: 0, aead, random });
  const nak = await exchange(forged.bytes, s.ntpPort);
  assert.ok(nak, 'chronyd answered the unknown cookie');
  assert.equal(openResponse(nak!, forged.pending, aead), { ok: false, reason: 'nak' });
  const wrongKey = sealRequest(request(), { keys: { c2s: random(32), s2c: s.keys.s2c }, cookie: s.cookies[1]!, placeholders: 0, aead, random });
  const nak2 = await exchange(wrongKey.bytes, s.ntpPort);
  assert.ok(nak2, 'chronyd answered the request that does not authenticate');
  assert.equal(openResponse(nak2!, wrongKey.pending, aead), { ok: false, reason: 'nak' });
});

t('a certificate the client does not trust: a clear error naming the server and the reason, no session', async () => {
  const err = await fetchNtsSession({ host: '127.0.0.1', port: kePort, servername: 'localhost', timeoutMs: 2000 }).then(
    () => null,
    (e: Error) => e,
  );
  assert.ok(err, 'refused');
  assert.match(err!.message, `NTS-KE with 127.0.0.1:${kePort}: `);
  assert.match(err!.message, /SELF_SIGNED/);
});

t('chronyd as the client: NTS-KE with our server, our cookies and keys in its NTS requests, and it selects our NTS-answered time', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ct-nts-srv-'));
  const jar = new CookieJar([{ id: 9, key: random(32) }], aead, random);
  const ntp = dgram.createSocket('udp4');
  let ke: NtsKeServer | null = null;
  let client: Chronyd | null = null;
  const seen = { nts: 0, other: 0 };
  try {
    const files = certFiles();
    writeFileSync(path.join(dir, 'cert.pem'), files['cert.pem']!);
    await new Promise<void>((r) => ntp.bind(0, '127.0.0.1', r));
    const ntpPort = ntp.address().port;
    // The NTP side answered here through the pure core (the daemon's native path does not serve NTS yet).
    ntp.on('message', (m, from) => {
      const d = decodePacket(m);
      if (!d.ok) return;
      const req = checkRequest(m, d.packet, jar);
      if (req.kind !== 'nts') {
        seen.other++;
        return;
      }
      seen.nts++;
      const now = unixNsToNtp64(BigInt(Date.now()) * 1_000_000n);
      const header = {
        ...emptyPacket(),
        version: 4,
        mode: Mode.Server,
        stratum: 1,
        precision: -20,
        refId: 0x4c4f434c,
        referenceTs: now,
        originTs: d.packet.transmitTs,
        receiveTs: now,
        transmitTs: now,
      };
      ntp.send(sealResponse(header, req, jar), from.port, from.address);
    });
    ke = await startNtsKeServer({ host: '127.0.0.1', port: 0, cert: files['cert.pem']!, key: files['key.pem']!, jar, ntpPort });
    client = await startChronyd([
      `server 127.0.0.1 port ${ntpPort} nts ntsport ${ke.port} iburst minpoll -2 maxpoll -2`,
      `ntstrustedcerts ${dir}/cert.pem`,
      'ntsdumpdir $DIR',
    ]);
    await waitFor('chronyd to select our NTS source', () => /Selected source 127\.0\.0\.1/.test(client!.log()), 20_000).catch(() => undefined);
    assert.is(ke.counters.sessions >= 1, true, `NTS-KE sessions: ${ke.counters.sessions}; chronyd: ${client.log()}`);
    assert.ok(seen.nts >= 3, `NTS requests that authenticated with our cookies: ${seen.nts} (others ${seen.other})`);
    assert.is(seen.other, 0, 'every request chronyd sent was NTS and authenticated');
    assert.match(client.log(), /Selected source 127\.0\.0\.1/);
  } finally {
    await client?.stop();
    await ke?.close();
    ntp.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
