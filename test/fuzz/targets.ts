// Property fuzz targets for the parsers that face the network and the disk:
// NTP packets (decode, response checks, auth), election messages, NTS-KE records and NTS requests, the config
// file, key files and the state file. Each target takes arbitrary bytes and
// must either return or throw the one error type its caller handles
// (ConfigError for configs and key files); anything else escaping is a bug.
// Properties beyond "does not throw" are checked where there is one to
// check: decode(encode(x)) == x, a response never accepted without the
// matching origin, a decoded message never carries an id over 64 bytes.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

import { parseConfig } from '../../src/daemon/config.js';
import { parseState } from '../../src/daemon/state.js';
import { decodeMessage, encodeMessage, MAX_ID_BYTES, type ClusterKey } from '../../src/election/wire.js';
import { parseKeyFile, verifyBytes, type KeyRing } from '../../src/ntp/auth.js';
import {
  buildKeError,
  buildKeRequest,
  buildKeResponse,
  decodeRecords,
  encodeRecords,
  KeErrorCode,
  KeProtocolError,
  parseKeRequest,
  parseKeResponse,
} from '../../src/ntp/nts-ke.js';
import { checkRequest, CookieJar, sealRequest } from '../../src/ntp/nts.js';
import { decodePacket, emptyPacket, encodePacket, type NtpPacket } from '../../src/ntp/packet.js';
import { buildResponse, processBroadcast, processResponse } from '../../src/ntp/wire.js';
import { ClocktowerError, ConfigError } from '../../src/util/errors.js';
import type { Rng } from '../../src/util/rng.js';
import { gcmAead, randomUint8 } from '../helpers/gcm-aead.js';

export interface Target {
  name: string;
  /** Valid inputs to start mutating from. */
  seeds: Uint8Array[];
  /** Throws (anything but an expected error) on a bug. */
  run(input: Uint8Array): void;
}

const te = new TextEncoder();
const td = new TextDecoder();
const KEY: ClusterKey = { id: 3, secret: te.encode('fuzzing-cluster-key-0123456789') };
// Keys 1 and 2 signed the captured seeds (scripts/fuzz-seeds.ts).
const KEYS: KeyRing = parseKeyFile(
  '1 MD5 fuzzseedmd5\n2 SHA1 HEX:00112233445566778899aabbccddeeff00112233\n3 AES128 HEX:000102030405060708090a0b0c0d0e0f\n',
  'keys',
);

// NTS: a fixed master key and a client's keys, three sealed requests (0, 1 and 7 placeholders).
// AES-256-GCM stands in for AES-SIV (test/helpers/gcm-aead.ts): this target fuzzes the field handling.
const ntsAead = gcmAead;
const ntsRandom = randomUint8;
const NTS_JAR = new CookieJar([{ id: 7, key: new Uint8Array(32).fill(0x42) }], ntsAead, ntsRandom);
const NTS_KEYS = { c2s: new Uint8Array(32).fill(1), s2c: new Uint8Array(32).fill(2) };
const NTS_SEEDS = [0, 1, 7].map(
  (placeholders) =>
    sealRequest(
      { ...emptyPacket(), version: 4, mode: 3, transmitTs: 0x1234n },
      { keys: NTS_KEYS, cookie: NTS_JAR.make(NTS_KEYS), placeholders, aead: ntsAead, random: ntsRandom },
    ).bytes,
);

class PropertyError extends Error {}
/** Responses the ntp-response target accepted (the fuzz must reach the accepting path too). */
export let accepted = 0;
function check(ok: boolean, what: string): void {
  if (!ok) throw new PropertyError(what);
}

/** Real packets captured from chronyd, ntpdig and clocktower (native/fuzz/corpus/responder, less the 8 config bytes). */
function capturedPackets(): Uint8Array[] {
  const dir = fileURLToPath(new URL('../../native/fuzz/corpus/responder', import.meta.url));
  try {
    return readdirSync(dir)
      .sort()
      .map((f) => Uint8Array.from(readFileSync(path.join(dir, f)).subarray(8)));
  } catch {
    return [];
  }
}

/** The request the ntp-response target pretends to have sent (chrony-reply in the corpus answers the same origin). */
const OUR_TRANSMIT = 0xe8000000_12345678n;
const T1_NS = 1_700_000_000_000_000_000n;
const decodeOk = (b: Uint8Array): NtpPacket => (decodePacket(b) as { packet: NtpPacket }).packet;

function ntpSeeds(): Uint8Array[] {
  const req = new Uint8Array(48);
  req[0] = 0x23; // v4 client
  new DataView(req.buffer).setBigUint64(40, OUR_TRANSMIT);
  const chrony = Uint8Array.from(req);
  chrony[2] = 6;
  const signed = new Uint8Array(48 + 20);
  signed.set(req);
  signed[51] = 1;
  const ext = new Uint8Array(48 + 16 + 24);
  ext.set(req);
  ext.set([0x01, 0x04, 0x00, 0x10], 48);
  const v3 = Uint8Array.from(req);
  v3[0] = 0x1b;
  // A reply that passes every test against the ntp-response target's outstanding request.
  const reply = encodePacket(
    buildResponse(decodeOk(req), T1_NS + 40_000n, T1_NS + 60_000n, {
      leap: 0,
      stratum: 2,
      precisionLog2: -20,
      refId: 0x7f000001,
      referenceNs: T1_NS - 1_000_000_000n,
      rootDelayNs: 1e6,
      rootDispersionNs: 1e6,
    })!,
  );
  return [req, chrony, signed, ext, v3, reply, ...capturedPackets()];
}

export const TARGETS: Target[] = [
  {
    name: 'ntp-packet',
    seeds: ntpSeeds(),
    run(b) {
      const d = decodePacket(b);
      if (!d.ok) return;
      const again = decodePacket(encodePacket(d.packet));
      check(again.ok && isDeepStrictEqual(again.packet, d.packet), 'decode(encode(p)) == p');
      check(encodePacket(d.packet).length === b.length, 'encoding keeps the length');
      verifyBytes(b, KEYS);
    },
  },
  {
    name: 'ntp-response',
    seeds: ntpSeeds(),
    run(b) {
      // Our outstanding request's transmit timestamp; anything accepted must echo it as its origin.
      const outstanding = { transmitTs: OUR_TRANSMIT, t1Ns: T1_NS, version: 4, mode: 3, keyId: null };
      const r = processResponse(b, {
        outstanding,
        lastTransmitTs: null,
        t4Ns: T1_NS + 100_000n,
        localPrecisionLog2: -20,
        keys: KEYS,
        requireKeyId: b.length > 60 ? 1 : null,
      });
      if (r.ok) {
        accepted++;
        check(r.packet.originTs === outstanding.transmitTs, 'accepted only with the matching origin');
        check(r.sample.delayNs >= 0 && Number.isFinite(r.sample.delayNs) && Number.isFinite(r.sample.dispersionNs), 'a sane sample');
      }
      processBroadcast(b, {
        lastTransmitTs: null,
        t4Ns: 1_700_000_000_000_100_000n,
        delayNs: 100_000,
        localPrecisionLog2: -20,
        keys: KEYS,
        requireAuth: b.length % 8 === 0,
      });
    },
  },
  {
    name: 'election-message',
    seeds: [
      encodeMessage(
        {
          type: 2,
          role: 2,
          flags: 4,
          stratum: 3,
          priority: 7,
          bootId: 99n,
          seq: 5n,
          nonce: 0n,
          leaderAgeMs: 0xffffffff,
          floorNs: 0n,
          ntpPort: 123,
          id: 'node-a',
          leader: null,
          candidates: [{ id: 'node-b', address: '10.0.0.2', port: 12300, ntpPort: 123, priority: 1, stratum: 10, flags: 4 }],
        },
        KEY,
      ),
      encodeMessage({
        type: 1,
        role: 1,
        flags: 0,
        stratum: 9,
        priority: 0,
        bootId: 1n,
        seq: 1n,
        nonce: 77n,
        leaderAgeMs: 250,
        floorNs: 1_700_000_000_000_000_000n,
        ntpPort: 11123,
        id: 'b',
        leader: { id: 'node-a', address: '10.0.0.1', port: 12123, ntpPort: 123 },
        candidates: [],
      }),
    ],
    run(b) {
      for (const key of [undefined, KEY]) {
        const d = decodeMessage(b, key);
        if (!d.ok) continue;
        check(te.encode(d.msg.id).length <= MAX_ID_BYTES && d.msg.id.length > 0, 'ids are 1..64 bytes');
        const again = decodeMessage(encodeMessage(d.msg, key), key);
        check(again.ok && isDeepStrictEqual(again.msg, d.msg), 'decode(encode(m)) == m');
      }
    },
  },
  {
    name: 'config',
    seeds: [
      '[node]\nid = "a"\npriority = 3\n[ntp]\nlisten = ["127.0.0.1:11123"]\nallow = ["127.0.0.0/8"]\nrate_limit = { interval = "125ms", burst = 16 }\nthreads = 0\n[cluster]\nlisten = "127.0.0.1:12123"\npeers = ["127.0.0.2:12123"]\nheartbeat = "500ms"\n[clock]\nmode = "virtual"\nstart = "2030-01-01T00:00:00Z"\n[log]\nlevel = "info"\n',
      '[upstream]\nservers = [{ address = "10.0.0.1:123", minpoll = 0, maxpoll = 4, iburst = true }]\n[ntp]\nbroadcast = { address = "10.0.0.255:123", interval = "64s" }\n',
    ].map((t) => te.encode(t)),
    run(b) {
      try {
        parseConfig(td.decode(b), '/fuzz/clocktower.toml');
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        check(e.message.includes('/fuzz/clocktower.toml'), 'a config error names the file');
      }
    },
  },
  {
    name: 'key-file',
    seeds: [te.encode('1 MD5 secret\n2 SHA256 HEX:0011223344556677\n# comment\n10 AES128 HEX:000102030405060708090a0b0c0d0e0f\n')],
    run(b) {
      try {
        parseKeyFile(td.decode(b), 'fuzz.keys');
      } catch (e) {
        if (!(e instanceof ClocktowerError)) throw e;
      }
    },
  },
  {
    name: 'nts-ke',
    seeds: [
      buildKeRequest({ server: 'time.lan', port: 123 }),
      buildKeResponse({ protocols: [0], aeads: [15] }, { cookies: [new Uint8Array(64).fill(7), new Uint8Array(64).fill(9)], server: '198.18.0.1', port: 123 }),
      buildKeError(KeErrorCode.BadRequest),
    ],
    run(b) {
      try {
        const r = decodeRecords(b);
        check(r.used <= b.length, 'records within the input');
        if (!r.done) return;
        check(Buffer.from(encodeRecords(r.records)).equals(Buffer.from(b)), 'encode(decode(m)) == m');
        for (const parse of [parseKeRequest, parseKeResponse]) {
          try {
            parse(r.records);
          } catch (e) {
            if (!(e instanceof KeProtocolError)) throw e;
          }
        }
      } catch (e) {
        if (!(e instanceof KeProtocolError)) throw e;
      }
    },
  },
  {
    name: 'nts-request',
    seeds: NTS_SEEDS,
    run(b) {
      const d = decodePacket(b);
      if (!d.ok) return;
      const r = checkRequest(b, d.packet, NTS_JAR);
      // The authenticator covers the header and every field before it, and must be last: a changed request
      // never passes, and a sealed one always does.
      const sealed = NTS_SEEDS.some((s) => Buffer.from(s).equals(Buffer.from(b)));
      check((r.kind === 'nts') === sealed, sealed ? 'a sealed NTS request did not authenticate' : 'a changed NTS request authenticated');
    },
  },
  {
    name: 'state-file',
    seeds: [te.encode('{"version":1,"floor_ns":"1790000000000000000","freq_ppm":-3.25}\n')],
    run(b) {
      const r = parseState(td.decode(b), 'state.json');
      check((r.state === null) !== (r.problem === null), 'a state or a problem, never both');
    },
  },
];

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x23, 0x24, 0x1b, 0x0f, 16, 20, 24, 48, 64];

/** One mutation of `input` (libFuzzer-style: flips, interesting bytes, inserts, deletes, splices). */
export function mutate(input: Uint8Array, rng: Rng, others: Uint8Array[]): Uint8Array {
  let b = Array.from(input);
  const rounds = 1 + rng.int(0, 3);
  for (let r = 0; r < rounds; r++) {
    const at = b.length ? rng.int(0, b.length - 1) : 0;
    switch (rng.int(0, 6)) {
      case 0:
        if (b.length) b[at] = b[at]! ^ (1 << rng.int(0, 7));
        break;
      case 1:
        if (b.length) b[at] = INTERESTING[rng.int(0, INTERESTING.length - 1)]!;
        break;
      case 2:
        b.splice(at, 0, ...Array.from({ length: rng.int(1, 8) }, () => rng.int(0, 255)));
        break;
      case 3:
        b.splice(at, rng.int(1, 8));
        break;
      case 4: {
        const o = others[rng.int(0, others.length - 1)]!;
        const from = o.length ? rng.int(0, o.length - 1) : 0;
        b.splice(at, rng.int(0, 8), ...o.slice(from, from + rng.int(1, 16)));
        break;
      }
      case 5:
        if (b.length) b[at] = rng.int(0, 255);
        break;
      default:
        b = b.slice(0, rng.int(0, b.length));
    }
  }
  return Uint8Array.from(b);
}

export interface FuzzReport {
  name: string;
  execs: number;
  crashes: { input: Uint8Array; error: string }[];
}

/** Runs `target` on seeds and their mutants until `untilMs` (wall clock) or `maxExecs`. */
export function fuzz(target: Target, rng: Rng, opts: { untilMs?: number; maxExecs?: number }): FuzzReport {
  const pool = [...target.seeds];
  const report: FuzzReport = { name: target.name, execs: 0, crashes: [] };
  const maxExecs = opts.maxExecs ?? Infinity;
  while (report.execs < maxExecs && (opts.untilMs === undefined || report.execs % 256 !== 0 || Date.now() < opts.untilMs)) {
    const input = report.execs < target.seeds.length ? target.seeds[report.execs]! : mutate(pool[rng.int(0, pool.length - 1)]!, rng, pool);
    report.execs++;
    try {
      target.run(input);
      // Keep a few survivors as new parents (no coverage feedback in JS: a bounded random pool).
      if (pool.length < 256 && rng.float() < 0.02) pool.push(input);
    } catch (e) {
      if (report.crashes.length < 10) report.crashes.push({ input, error: (e as Error).stack ?? String(e) });
    }
  }
  return report;
}
