// NTS against a real peer: Debian's chronyd (built +NTS, `chronyd -x`) as the
// NTS-KE and NTP server, a certificate made here with openssl. Our KE client
// gets its cookies and exports the keys; our NTS request (src/ntp/nts.ts,
// the native AEAD) is answered, authenticated and carries fresh cookies; a
// cookie chrony cannot open, or a request sealed with the wrong key, gets an
// NTS NAK. Then with the daemon: chronyd as an NTS client of the daemon (its
// NTS-KE, its native server answering NTS; chronyc shows NTS with cookies and
// ^*), and the daemon as an NTS client of chronyd (an upstream with nts = true).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { fetchNtsSession, type NtsSession } from '../../src/daemon/nts-ke-client.js';
import { sivAead } from '../../src/native/nts-aead.js';
import { openResponse, sealRequest, type NtsAnswer } from '../../src/ntp/nts.js';
import { emptyPacket, Mode } from '../../src/ntp/packet.js';
import { selfSignedCert } from '../helpers/certs.js';
import { freePort, startChronyd, type Chronyd } from '../helpers/chrony.js';
import { DaemonProc, waitStatuses } from '../helpers/daemon.js';
import { need, testIf } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait.js';

const aead = sivAead;
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

/** A single clocktower daemon on loopback (trusted clock or an upstream), its files in `dir`. */
function daemon(dir: string, o: { ntpPort: number; extra: string }): DaemonProc {
  return DaemonProc.write(dir, {
    id: 'ct',
    priority: 0,
    address: '127.0.0.1',
    ntpPort: o.ntpPort,
    clusterPort: freePort(),
    peers: [],
    start: null,
    extra: o.extra,
  });
}

const chronyc = (sock: string, args: string[]) => spawnSync('chronyc', ['-h', sock, ...args], { encoding: 'utf8', timeout: 5000 }).stdout ?? '';

t('chronyd as an NTS client of the daemon: NTS-KE, cookies, every request answered with NTS by the native server, ^* in chronyc', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ct-nts-srv-'));
  const files = certFiles();
  writeFileSync(path.join(dir, 'cert.pem'), files['cert.pem']);
  writeFileSync(path.join(dir, 'key.pem'), files['key.pem'], { mode: 0o600 });
  const ntpPort = freePort();
  const kePortOurs = freePort();
  const d = daemon(path.join(dir, 'd'), {
    ntpPort,
    extra: ['[nts]', `listen = "127.0.0.1:${kePortOurs}"`, `certificate = "${dir}/cert.pem"`, `private_key = "${dir}/key.pem"`].join('\n'),
  });
  // A node alone with a trusted clock serves at its local stratum.
  writeFileSync(d.config!, readFileSync(d.config!, 'utf8').replace('mode = "virtual"', 'mode = "virtual"\ntrusted = true'));
  let client: Chronyd | null = null;
  try {
    d.start();
    await waitFor('the daemon to serve NTS-KE', () => /nts-ke: serving/.test(d.output), 20_000);
    client = await startChronyd([
      `server 127.0.0.1 port ${ntpPort} nts ntsport ${kePortOurs} iburst minpoll -2 maxpoll -2`,
      `ntstrustedcerts ${dir}/cert.pem`,
      'ntsdumpdir $DIR',
      'bindcmdaddress $DIR/cmd.sock',
    ]);
    const sock = path.join(client.dir, 'cmd.sock');
    await waitFor('chronyd to select the daemon (^*)', () => /^\^\*/m.test(chronyc(sock, ['-n', 'sources'])), 30_000).catch(() => undefined);
    const sources = chronyc(sock, ['-n', 'sources']);
    assert.match(sources, /^\^\* 127\.0\.0\.1/m, `chronyc sources:\n${sources}\nchronyd:\n${client.log()}`);
    // authdata: Mode NTS, KeyID, Type 15 (AES-SIV-CMAC-256), KLen, Last, Atmp, NAK, Cook(ies), CLen
    const auth = chronyc(sock, ['-n', '-c', 'authdata'])
      .trim()
      .split('\n')
      .find((l) => l.startsWith('127.0.0.1,'));
    assert.ok(auth, `chronyc authdata: ${chronyc(sock, ['-n', 'authdata'])}`);
    const f = auth!.split(',');
    assert.is(f[1], 'NTS', auth);
    assert.is(f[3], '15', `AEAD ${auth}`);
    assert.is(f[7], '0', `NAKs ${auth}`);
    assert.ok(Number(f[8]) >= 1, `cookies held: ${auth}`);
    const st = (await d.status())!;
    assert.ok((st.ntp.counters['answeredNts'] ?? 0) >= 3, JSON.stringify(st.ntp.counters));
    assert.is(st.ntp.counters['ntsNak'], 0);
    assert.ok(st.ntp.nts.ke_server!.sessions >= 1);
  } finally {
    await client?.stop();
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

t("the daemon as an NTS client of chronyd's NTS server: an upstream with nts = true, synchronised through NTS", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ct-nts-cli-'));
  writeFileSync(path.join(dir, 'ca.pem'), cert);
  const d = daemon(path.join(dir, 'd'), {
    ntpPort: freePort(),
    extra: [
      '[upstream]',
      `servers = [{ address = "127.0.0.1:${chrony!.port}", nts = true, nts_port = ${kePort}, minpoll = -2, maxpoll = -2 }]`,
      '[nts]',
      `listen = "127.0.0.1:${freePort()}"`,
      `ca = "${dir}/ca.pem"`,
    ].join('\n'),
  });
  try {
    d.start();
    const [s] = await waitStatuses(
      [d],
      'the daemon to synchronise to chronyd through NTS',
      (ss) => ss[0]?.synced === true && (ss[0]?.source?.accepted ?? 0) >= 3,
      30_000,
      250,
    );
    const n = s!.source!.nts!;
    assert.ok(n, 'an NTS source');
    assert.ok(n.cookies >= 1 && n.ke_runs >= 1 && n.naks === 0 && n.unauthenticated === 0, JSON.stringify(n));
    assert.match(s!.source!.id, /^upstream1:127\.0\.0\.1:/);
    assert.match(d.output, /nts-ke: session/);
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
