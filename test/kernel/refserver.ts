// The upstream of the kernel tier: an NTP server whose time is known. Node
// time is a line over this host's REALTIME clock, `--start` at launch and
// `--freq-ppm` fast; the native responder answers from it with kernel
// stamps. With `--leap-at`, it announces an inserted leap second (LI = 1)
// until that instant and then inserts it (its time goes back 1 s), as a
// leap-aware stratum 1 would. A datagram `jump MS` to its port + 1 (from a
// guest on the link) moves its time by MS milliseconds, as a server that was
// itself corrected would. With `--nts-ke PORT --cert F --key F` it also serves
// NTS (RFC 8915): NTS-KE on PORT, NTS requests answered by the native server.
// Prints `ready` once it serves; stops on SIGTERM.
//   node --import tsx test/kernel/refserver.ts --listen 198.18.1.1:123 [--start ISO] [--freq-ppm N] [--leap-at ISO]
//     [--nts-ke PORT --cert FILE --key FILE]
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { startNtsKeServer, type NtsKeServer } from '../../src/daemon/nts-ke-server.js';
import { sivAead } from '../../src/native/nts-aead.js';
import { CookieJar } from '../../src/ntp/nts.js';

import { realtimeNs } from '../../src/native/clock.js';
import { NtpServer } from '../../src/native/server.js';
import { Leap } from '../../src/ntp/packet.js';
import type { ServerState } from '../../src/ntp/wire.js';

const { values } = parseArgs({
  options: {
    listen: { type: 'string' },
    start: { type: 'string' },
    'freq-ppm': { type: 'string' },
    'leap-at': { type: 'string' },
    'nts-ke': { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
  },
});
const [host, port] = (values.listen ?? '127.0.0.1:11123').split(/:(?=\d+$)/);
const isoNs = (iso: string): bigint => BigInt(Date.parse(iso)) * 1_000_000n;
const freqPpm = Number(values['freq-ppm'] ?? 0);
const sys0 = realtimeNs();
const start = values.start ? isoNs(values.start) : sys0;
const leapAt = values['leap-at'] ? isoNs(values['leap-at']) : null;

const state = (leap: number): ServerState => ({
  leap,
  stratum: 1,
  precisionLog2: -24,
  refId: 0x47505300, // "GPS\0"
  referenceNs: start,
  rootDelayNs: 0,
  rootDispersionNs: 0,
});

const server = new NtpServer({ address: host!, port: Number(port) });
let jumpedNs = 0n;
let leap = leapAt ? Leap.Insert : Leap.None;
const publish = (): void => server.setState(state(leap), { refSysNs: sys0, refNodeNs: start + jumpedNs, freqPpm });
publish();
const control = dgram.createSocket('udp4');
control.bind(Number(port) + 1, host);
control.on('message', (m) => {
  const ms = /^jump (-?\d+(?:\.\d+)?)$/.exec(m.toString())?.[1];
  if (ms === undefined) return;
  jumpedNs += BigInt(Math.round(Number(ms) * 1e6));
  publish();
  console.log(`jumped ${ms} ms`);
});
if (leapAt !== null) {
  // The system time at which node time reaches the leap: then the same line, 1 s back.
  const atSys = sys0 + BigInt(Math.round(Number(leapAt - start) / (1 + freqPpm * 1e-6)));
  setTimeout(
    () => {
      leap = Leap.None;
      jumpedNs -= 1_000_000_000n;
      publish();
      console.log('leap inserted');
    },
    Math.max(0, Number(atSys - realtimeNs()) / 1e6),
  );
}
let ke: NtsKeServer | null = null;
if (values['nts-ke']) {
  const random = (n: number) => new Uint8Array(randomBytes(n));
  const jar = new CookieJar([{ id: 1, key: random(32) }], sivAead, random);
  server.setNtsKeys(jar.keys);
  ke = await startNtsKeServer({
    host: host!,
    port: Number(values['nts-ke']),
    cert: readFileSync(values.cert!),
    key: readFileSync(values.key!),
    jar,
    ntpPort: Number(port),
  });
}
console.log('ready');
process.on('SIGTERM', () => {
  server.close();
  control.close();
  void ke?.close();
  process.exit(0);
});
