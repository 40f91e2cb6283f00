// The upstream of the kernel tier: an NTP server whose time is known. Node
// time is a line over this host's REALTIME clock, `--start` at launch and
// `--freq-ppm` fast; the native responder answers from it with kernel
// stamps. With `--leap-at`, it announces an inserted leap second (LI = 1)
// until that instant and then inserts it (its time goes back 1 s), as a
// leap-aware stratum 1 would. Prints `ready` once it serves; stops on SIGTERM.
//   node --import tsx test/kernel/refserver.ts --listen 198.18.1.1:123 [--start ISO] [--freq-ppm N] [--leap-at ISO]
import { parseArgs } from 'node:util';

import { realtimeNs } from '../../src/native/clock.js';
import { NtpServer } from '../../src/native/server.js';
import { Leap } from '../../src/ntp/packet.js';
import type { ServerState } from '../../src/ntp/wire.js';

const { values } = parseArgs({
  options: { listen: { type: 'string' }, start: { type: 'string' }, 'freq-ppm': { type: 'string' }, 'leap-at': { type: 'string' } },
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
server.setState(state(leapAt ? Leap.Insert : Leap.None), { refSysNs: sys0, refNodeNs: start, freqPpm });
if (leapAt !== null) {
  // The system time at which node time reaches the leap: then the same line, 1 s back.
  const atSys = sys0 + BigInt(Math.round(Number(leapAt - start) / (1 + freqPpm * 1e-6)));
  setTimeout(() => {
    server.setState(state(Leap.None), { refSysNs: sys0, refNodeNs: start - 1_000_000_000n, freqPpm });
    console.log('leap inserted');
  }, Math.max(0, Number(atSys - realtimeNs()) / 1e6));
}
console.log('ready');
process.on('SIGTERM', () => {
  server.close();
  process.exit(0);
});
