// Micro-benchmark: what NTS costs per request in the pure core (src/ntp/nts.ts)
// with the native AEAD, against a plain answer by the same TypeScript core.
// Cases: AES-SIV over a request's authenticated part (84 bytes of AD, empty
// text), a server's whole NTS work for one request (open the cookie, check
// the authenticator, make one fresh cookie, seal the answer), and a plain
// answer (decode, buildResponse, encode). Ratios are within this one run; the
// native server's NTS path (not built yet) is what bench/throughput will load.
//   npm run bench:nts
import { randomBytes } from 'node:crypto';

import b from 'benny';

import { sivAead, sivSeal } from '../src/native/nts-aead.js';
import { checkRequest, CookieJar, sealRequest, sealResponse } from '../src/ntp/nts.js';
import { decodePacket, emptyPacket, encodePacket, Mode, type NtpPacket } from '../src/ntp/packet.js';
import { buildRequest, buildResponse, type ServerState } from '../src/ntp/wire.js';
import { seededRng } from '../src/util/rng.js';

const aead = sivAead;
const random = (n: number) => new Uint8Array(randomBytes(n));
const jar = new CookieJar([{ id: 1, key: random(32) }], aead, random);
const keys = { c2s: random(32), s2c: random(32) };
const T0 = 1_795_219_200_000_000_000n;
const state: ServerState = { leap: 0, stratum: 2, precisionLog2: -20, refId: 1, referenceNs: T0, rootDelayNs: 1e6, rootDispersionNs: 1e6 };
const header: NtpPacket = { ...emptyPacket(), version: 4, mode: Mode.Client, transmitTs: 0x1234n };
const nts = sealRequest(header, { keys, cookie: jar.make(keys), placeholders: 0, aead, random }).bytes;
const ntsPkt = (decodePacket(nts) as { packet: NtpPacket }).packet;
const plain = buildRequest({ rng: seededRng(1), pollLog2: 6 }).bytes;
const ad = random(84);
const nonce = random(16);
const none = new Uint8Array(0);
const ops = new Map<string, number>();
let sink = 0;

await b.suite(
  'NTS per request (TypeScript core, native AEAD)',
  b.add('AES-SIV seal: 84-byte AD, empty text', () => {
    sink += sivSeal(keys.c2s, nonce, ad, none).length;
  }),
  b.add('NTS answer: cookie, authenticator, 1 new cookie, seal', () => {
    const d = decodePacket(nts) as { packet: NtpPacket };
    const r = checkRequest(nts, d.packet, jar);
    if (r.kind !== 'nts') throw new Error(r.kind);
    sink += sealResponse(buildResponse(ntsPkt, T0 + 1000n, T0 + 2000n, state)!, r, jar).length;
  }),
  b.add('plain answer: decode, buildResponse, encode', () => {
    const d = decodePacket(plain) as { packet: NtpPacket };
    sink += encodePacket(buildResponse(d.packet, T0 + 1000n, T0 + 2000n, state)!).length;
  }),
  b.cycle(),
  b.complete((s) => {
    for (const r of s.results) ops.set(r.name, r.ops);
  }),
);
console.log('\nops/s (this run):');
for (const [k, o] of ops) console.log(`  ${k.padEnd(56)} ${(o / 1e3).toFixed(0)} k`);
const [siv, ntsOps, plainOps] = [...ops.values()];
console.log(`ratios nts/plain=${(ntsOps! / plainOps!).toFixed(3)} siv/plain=${(siv! / plainOps!).toFixed(2)}`);
if (sink < 0) console.log(sink);
