// Micro-benchmark: the TypeScript NTP core. Decode and encode of a 48-byte
// packet, a signed (SHA1) packet's verification, and a full cycle: build a
// request, answer it with the reference server, check the answer (RFC 5905
// §8) and compute offset/delay. Ratios are within this one run.
//   npm run bench:protocol
import b from 'benny';

import { parseKeyFile, signPacket, verifyBytes } from '../src/ntp/auth.js';
import { decodePacket, encodePacket, type NtpPacket } from '../src/ntp/packet.js';
import { buildRequest, buildResponse, processResponse, type ServerState } from '../src/ntp/wire.js';
import { seededRng } from '../src/util/rng.js';

const rng = seededRng(1);
const T0 = 1_795_219_200_000_000_000n;
const state: ServerState = { leap: 0, stratum: 2, precisionLog2: -20, refId: 1, referenceNs: T0, rootDelayNs: 1e6, rootDispersionNs: 1e6 };
const req = buildRequest({ rng, pollLog2: 6 });
const reqPkt = (decodePacket(req.bytes) as { packet: NtpPacket }).packet;
const respPkt = buildResponse(reqPkt, T0 + 1000n, T0 + 2000n, state)!;
const respBytes = encodePacket(respPkt);
const keys = parseKeyFile('1 SHA1 HEX:933F62BE1D604E68A81B557F18CFA200483F5B70', 'bench');
const signed = signPacket(respBytes, keys.get(1)!);
const ops = new Map<string, number>();
let sink = 0;

await b.suite(
  'NTP core (TypeScript)',
  b.add('decode 48-byte packet', () => {
    sink += decodePacket(respBytes).ok ? 1 : 0;
  }),
  b.add('encode 48-byte packet', () => {
    sink += encodePacket(respPkt).length;
  }),
  b.add('verify SHA1 MAC', () => {
    sink += verifyBytes(signed, keys).status.length;
  }),
  b.add('cycle: request -> response -> checks -> offset', () => {
    const r = buildRequest({ rng, pollLog2: 6 });
    const p = (decodePacket(r.bytes) as { packet: NtpPacket }).packet;
    const resp = encodePacket(buildResponse(p, T0 + 1000n, T0 + 2000n, state)!);
    const res = processResponse(resp, {
      outstanding: { transmitTs: r.transmitTs, t1Ns: T0, version: 4, mode: 3, keyId: null },
      lastTransmitTs: null,
      t4Ns: T0 + 3000n,
      localPrecisionLog2: -20,
    });
    sink += res.ok ? 1 : 0;
  }),
  b.cycle(),
  b.complete((s) => {
    for (const r of s.results) ops.set(r.name, r.ops);
  }),
);
const v = (k: string) => ops.get(k)!;
console.log('\nops/s (this run):');
for (const [k, o] of ops) console.log(`  ${k.padEnd(48)} ${(o / 1e3).toFixed(0)} k`);
console.log(
  `ratios encode/decode=${(v('encode 48-byte packet') / v('decode 48-byte packet')).toFixed(2)} cycle/decode=${(v('cycle: request -> response -> checks -> offset') / v('decode 48-byte packet')).toFixed(2)}`,
);
if (sink < 0) console.log(sink);
