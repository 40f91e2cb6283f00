// Captures the fuzzers' seed corpus from real peers on loopback and writes it
// to native/fuzz/corpus/<target>/ (committed; rerun to refresh):
//   responder: requests from chronyd (plain and MD5/SHA1-signed), ntpdig (in
//     a private network namespace: it insists on port 123) and `clocktower
//     query`; replies from chronyd and from our native server. Each file is
//     the target's 8 configuration bytes followed by the datagram.
//     Also NTS requests sealed by our client core (ntsSeeds; `--nts-only`
//     writes just those).
//   records: control buffers as the kernel lays them out (SO_TIMESTAMPNS,
//     SO_TIMESTAMP, IP_PKTINFO, IPV6_PKTINFO), one byte of address family first.
//   ntp_time: nothing to capture; libFuzzer starts it from empty.
// Usage: sh scripts/no-sys-time.sh node --import tsx scripts/fuzz-seeds.ts
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { CookieJar, sealRequest } from '../src/ntp/nts.js';
import { emptyPacket, encodePacket } from '../src/ntp/packet.js';
import { sivAead } from '../src/native/nts-aead.js';
import { unixNsToNtp64 } from '../src/ntp/time.js';
import { realtimeNs } from '../src/native/clock.js';
import { NtpServer } from '../src/native/server.js';
import { UdpEndpoint } from '../src/native/udp.js';
import { startChronyd } from '../test/helpers/chrony.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const corpus = (target: string) => {
  const dir = path.join(root, 'native/fuzz/corpus', target);
  mkdirSync(dir, { recursive: true });
  return dir;
};
const save = (target: string, name: string, bytes: Uint8Array) => {
  const tag = createHash('sha1').update(bytes).digest('hex').slice(0, 10);
  writeFileSync(path.join(corpus(target), `${name}-${tag}`), bytes);
  console.log(`${target}/${name}-${tag} (${bytes.length} bytes)`);
};
// Responder config bytes: deny KoD, no rate limit, no ACL, leap 0, stratum 2, reference set, client 10.0.0.7.
const CONFIG = Uint8Array.of(1, 0, 0, 0, 0, 2, 1, 7);
const withConfig = (d: Uint8Array) => Uint8Array.from([...CONFIG, ...d]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function capture(port: number, count: number, send: () => Promise<void> | void): Promise<Uint8Array[]> {
  const got: Uint8Array[] = [];
  const ep = new UdpEndpoint(
    { address: '127.0.0.1', port },
    {
      onBatch: (b) => {
        for (let i = 0; i < b.count; i++) got.push(Uint8Array.from(b.data(i)));
      },
    },
  );
  try {
    await send();
    for (let t = 0; t < 100 && got.length < count; t++) await sleep(100);
  } finally {
    ep.close();
  }
  return got;
}

const KEYS = '1 MD5 fuzzseedmd5\n2 SHA1 HEX:00112233445566778899aabbccddeeff00112233\n';

async function chronyRequests(): Promise<void> {
  for (const key of [null, 1, 2]) {
    const port = 12000 + Math.floor(Math.random() * 1000);
    const got = await capture(port, 1, async () => {
      const c = await startChronyd([`server 127.0.0.1 port ${port} iburst minpoll 0 maxpoll 0${key ? ` key ${key}` : ''}`, 'keyfile $DIR/keys'], {
        keys: KEYS,
      });
      await sleep(2500);
      await c.stop();
    });
    if (got[0]) save('responder', `chrony-request${key ? `-key${key}` : ''}`, withConfig(got[0]));
  }
}

/** A plain v4 client request to 127.0.0.1:port; the first answer, or undefined. */
async function askOnce(port: number): Promise<Uint8Array | undefined> {
  const got: Uint8Array[] = [];
  const ep = new UdpEndpoint(
    { address: '127.0.0.1' },
    {
      onBatch: (b) => {
        for (let i = 0; i < b.count; i++) got.push(Uint8Array.from(b.data(i)));
      },
    },
  );
  try {
    const req = new Uint8Array(48);
    req[0] = 0x23;
    new DataView(req.buffer).setBigUint64(40, 0xe8000000_12345678n);
    ep.send(req, port, '127.0.0.1');
    for (let t = 0; t < 50 && got.length < 1; t++) await sleep(100);
    return got[0];
  } finally {
    ep.close();
  }
}

async function chronyReplies(): Promise<void> {
  const c = await startChronyd(['local stratum 8', 'allow 127.0.0.0/8', 'keyfile $DIR/keys'], { keys: KEYS });
  try {
    const reply = await askOnce(c.port);
    if (reply) save('responder', 'chrony-reply', withConfig(reply));
  } finally {
    await c.stop();
  }
}

async function oursQueryAndReply(): Promise<void> {
  const port = 13000 + Math.floor(Math.random() * 1000);
  const got = await capture(port, 1, () => {
    spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/bin.ts'), 'query', `127.0.0.1:${port}`, '--count', '1', '--timeout', '1'], {
      stdio: 'ignore',
    });
  });
  if (got[0]) save('responder', 'clocktower-request', withConfig(got[0]));
  const srv = new NtpServer({ address: '127.0.0.1' });
  try {
    const now = realtimeNs();
    srv.setState(
      { leap: 0, stratum: 3, precisionLog2: -20, refId: 0x7f000001, referenceNs: now, rootDelayNs: 1e6, rootDispersionNs: 5e5 },
      { refSysNs: now, refNodeNs: now, freqPpm: 0 },
    );
    const reply = await askOnce(srv.address().port);
    if (reply) save('responder', 'clocktower-reply', withConfig(reply));
  } finally {
    srv.close();
  }
}

/** ntpdig insists on port 123: a private network namespace with a Python listener on 127.0.0.1:123. */
function ntpdigRequest(): void {
  const ns = `ct-seeds-${process.pid}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'ct-seeds-'));
  const out = path.join(dir, 'req');
  try {
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const py = `import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(('127.0.0.1',123));s.settimeout(5);d,a=s.recvfrom(2048);open(${JSON.stringify(out)},'wb').write(d)`;
    const listener = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', py], { stdio: 'ignore' });
    execFileSync('sh', ['-c', `sleep 0.3; ip netns exec ${ns} ntpdig -t 1 127.0.0.1 >/dev/null 2>&1 || true`]);
    execFileSync('sh', ['-c', `for i in $(seq 50); do [ -s ${out} ] && exit 0; sleep 0.1; done; exit 0`]);
    listener.kill();
    save('responder', 'ntpdig-request', withConfig(readFileSync(out)));
  } catch (e) {
    console.error(`ntpdig: not captured (${(e as Error).message.split('\n')[0]})`);
  } finally {
    try {
      execFileSync('ip', ['netns', 'del', ns]);
    } catch {
      // never created
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Control buffers laid out as the kernel writes them (x86-64/aarch64 cmsghdr: u64 len, i32 level, i32 type). */
function recordSeeds(): void {
  const cmsg = (level: number, type: number, payload: number[]) => {
    const len = 16 + payload.length;
    const space = (len + 7) & ~7;
    const b = new Uint8Array(space);
    const v = new DataView(b.buffer);
    v.setBigUint64(0, BigInt(len), true);
    v.setInt32(8, level, true);
    v.setInt32(12, type, true);
    b.set(payload, 16);
    return [...b];
  };
  const le64 = (n: bigint) => [...new Uint8Array(new BigUint64Array([n]).buffer)];
  const SOL_SOCKET = 1,
    SO_TIMESTAMPNS = 35,
    SO_TIMESTAMP = 29,
    IPPROTO_IP = 0,
    IP_PKTINFO = 8,
    IPPROTO_IPV6 = 41,
    IPV6_PKTINFO = 50;
  const ts = [...le64(1_790_000_000n), ...le64(123_456_789n)];
  const pkt4 = [1, 0, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]; // ifindex, spec_dst, addr
  const pkt6 = [...Array(15).fill(0), 1, 1, 0, 0, 0]; // ::1, ifindex
  save('records', 'ns-pktinfo4', Uint8Array.from([0, ...cmsg(SOL_SOCKET, SO_TIMESTAMPNS, ts), ...cmsg(IPPROTO_IP, IP_PKTINFO, pkt4)]));
  save('records', 'us', Uint8Array.from([0, ...cmsg(SOL_SOCKET, SO_TIMESTAMP, ts)]));
  save('records', 'ns-pktinfo6', Uint8Array.from([1, ...cmsg(SOL_SOCKET, SO_TIMESTAMPNS, ts), ...cmsg(IPPROTO_IPV6, IPV6_PKTINFO, pkt6)]));
}

/**
 * A request in interleaved form (RFC 9769) naming the RX stamp the responder
 * target always answers with (it receives at 1.8e18 ns): run twice, the
 * second run is answered interleaved, so the fuzzer starts from that branch.
 */
function interleavedSeed(): void {
  const rxKey = unixNsToNtp64(1_800_000_000_000_000_000n) | 1n;
  const req = encodePacket({ ...emptyPacket(), version: 4, mode: 3, poll: 6, originTs: rxKey, receiveTs: 0x1234_5678n, transmitTs: 0x8765_4321_0000n });
  save('responder', 'interleaved-request', withConfig(req));
}

/**
 * NTS requests (RFC 8915 §5) sealed by our client core, with cookies under
 * the master key native/fuzz/responder_fuzz.cc gives its responder (id
 * "NTS1", 32 bytes of 0x5a), so the fuzzer starts inside the NTS path: 0 and
 * 2 placeholders.
 */
function ntsSeeds(): void {
  let n = 0;
  const random = (len: number) => Uint8Array.from({ length: len }, () => (n = (n * 1103515245 + 12345) >>> 0) >>> 24);
  const aead = sivAead;
  const jar = new CookieJar([{ id: 0x4e545331, key: new Uint8Array(32).fill(0x5a) }], aead, random);
  const keys = { c2s: new Uint8Array(32).fill(0x11), s2c: new Uint8Array(32).fill(0x22) };
  for (const placeholders of [0, 2]) {
    const header = { ...emptyPacket(), version: 4, mode: 3, poll: 6, transmitTs: 0x8765_4321_0000n + BigInt(placeholders) };
    const { bytes } = sealRequest(header, { keys, cookie: jar.make(keys), placeholders, aead, random });
    save('responder', `nts-request-${placeholders}`, withConfig(bytes));
  }
}

if (process.argv.includes('--nts-only')) {
  ntsSeeds();
} else {
  await chronyRequests();
  await chronyReplies();
  await oursQueryAndReply();
  ntpdigRequest();
  recordSeeds();
  interleavedSeed();
  ntsSeeds();
}
