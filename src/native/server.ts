// The native NTP server: a UdpEndpoint whose client requests are answered
// in C++ (native/responder.cc) from a state JS sets, never touching the JS
// heap per packet. Datagrams that are not requests to serve (replies to our
// own client, broadcasts) still reach onBatch. Counters are read from shared
// memory: no native call per read.
import type { ClockModel } from '../clock/driver.js';
import type { KeyRing, KeyType } from '../ntp/auth.js';
import { nsToNtpShort } from '../ntp/time.js';
import { encodeCidr } from '../util/ip.js';
import { OLD_MASTER_KEYS, type MasterKey } from '../ntp/nts.js';
import type { ServerState } from '../ntp/wire.js';
import { KEY_TYPES, SERVER_COUNTERS } from './layouts.js';
import { UdpEndpoint, type UdpHandlers, type UdpOptions } from './udp.js';

export { SERVER_COUNTERS };
export type ServerCounter = (typeof SERVER_COUNTERS)[number];


export interface AccessOptions {
  /** CIDRs allowed to ask ("10.0.0.0/8", "fd00::/8"); empty: everyone. */
  allow?: string[];
  /** CIDRs refused; deny wins over allow. */
  deny?: string[];
  /** Refused clients get a DENY Kiss-o'-Death (rationed) or silence. Default "kod". */
  denyAction?: 'kod' | 'drop';
}

export interface RateLimitOptions {
  /** Mean spacing a client may keep up, seconds (default 0.125). */
  intervalS?: number;
  /** Requests a quiet client may send at once (default 16). */
  burst?: number;
  /** At most one RATE/DENY KoD per client per this many seconds (default 1). */
  kodIntervalS?: number;
}

function packCidrs(list: string[] | undefined): Uint8Array {
  const items = (list ?? []).map(encodeCidr);
  const out = new Uint8Array(items.length * 17);
  items.forEach((c, i) => out.set(c, i * 17));
  return out;
}

/** Receive queue a server asks for unless told otherwise. */
export const SERVER_RCVBUF_BYTES = 1 << 20;

/** Bytes of one server's counter block. */
export const COUNTER_BYTES = SERVER_COUNTERS.length * 8;

/** Master keys as the responder takes them: 32-byte keys, 32-bit ids, at most 3, newest first. */
export function checkNtsKeys(keys: readonly MasterKey[]): readonly MasterKey[] {
  if (!Array.isArray(keys) || keys.length > 1 + OLD_MASTER_KEYS) throw new RangeError(`NTS master keys: an array of at most ${1 + OLD_MASTER_KEYS}`);
  for (const k of keys) {
    if (!Number.isInteger(k.id) || k.id < 0 || k.id > 0xffffffff) throw new RangeError(`NTS master key id ${k.id} is not a 32-bit unsigned integer`);
    if (!(k.key instanceof Uint8Array) || k.key.length !== 32) throw new RangeError(`NTS master key ${k.id} must be 32 bytes`);
  }
  return keys;
}

/** Replies remembered for interleaved mode (RFC 9769) unless told otherwise: 4096 × 48 bytes. */
export const DEFAULT_INTERLEAVED_ENTRIES = 4096;
/** The largest interleave table a server takes. */
export const MAX_INTERLEAVED_ENTRIES = 1 << 20;

export interface NtpServerOptions extends UdpOptions {
  /**
   * Count into this shared memory (COUNTER_BYTES long) instead of the
   * endpoint's own, so another thread can read the counters (server threads).
   */
  sharedCounters?: SharedArrayBuffer;
}

export class NtpServer extends UdpEndpoint {
  readonly #counters: BigUint64Array;
  readonly #config = { requireAuth: false, interleavedEntries: DEFAULT_INTERLEAVED_ENTRIES };

  constructor(opts: NtpServerOptions, handlers: UdpHandlers = {}) {
    // 1 MiB of queue (2 MiB granted where rmem_max allows): at 100k requests/s
    // the default ~200 KB overflows in a 1.5 ms stall of the loop (bench/soak).
    super({ receiveBufferBytes: SERVER_RCVBUF_BYTES, ...opts }, handlers);
    const shared = opts.sharedCounters;
    if (shared !== undefined) {
      if (!(shared instanceof SharedArrayBuffer) || shared.byteLength < COUNTER_BYTES) {
        this.close();
        throw new TypeError(`sharedCounters must be a SharedArrayBuffer of at least ${COUNTER_BYTES} bytes`);
      }
      this.native.enableResponder(new Uint8Array(shared, 0, COUNTER_BYTES));
      this.#counters = new BigUint64Array(shared, 0, SERVER_COUNTERS.length);
    } else {
      this.native.enableResponder();
      this.#counters = new BigUint64Array(this.native.counters);
    }
    this.native.setResponderConfig(this.#config);
  }

  /**
   * Interleaved mode (RFC 9769): how many replies' kernel TX stamps are kept
   * for clients that ask in interleaved form (0: answer every request in
   * basic mode). Only those clients' replies are stamped; the oldest go first.
   */
  setInterleaved(entries: number): void {
    if (!Number.isInteger(entries) || entries < 0 || entries > MAX_INTERLEAVED_ENTRIES) throw new RangeError(`interleaved entries must be an integer 0..${MAX_INTERLEAVED_ENTRIES}`);
    this.#config.interleavedEntries = entries;
    this.native.setResponderConfig(this.#config);
  }

  /**
   * What the server says (stratum, leap, refid, root delay/dispersion,
   * reference time) and how it maps kernel time to node time. One call, so
   * a response never mixes an old state with a new clock.
   */
  setState(state: ServerState, clock: ClockModel): void {
    if (!Number.isInteger(state.stratum) || state.stratum < 0 || state.stratum > 16) throw new RangeError(`stratum ${state.stratum}`);
    if (!Number.isInteger(state.leap) || state.leap < 0 || state.leap > 3) throw new RangeError(`leap ${state.leap}`);
    if (!Number.isFinite(clock.freqPpm) || Math.abs(clock.freqPpm) > 1000) throw new RangeError(`freqPpm ${clock.freqPpm}`);
    this.native.setServerState({
      leap: state.leap,
      stratum: state.stratum,
      precision: Math.max(-128, Math.min(127, Math.round(state.precisionLog2))),
      refid: state.refId >>> 0,
      referenceNs: state.referenceNs,
      rootDelay: nsToNtpShort(BigInt(Math.round(Math.max(0, state.rootDelayNs)))),
      rootDispersionNs: Math.max(0, state.rootDispersionNs),
      refSysNs: clock.refSysNs,
      refNodeNs: clock.refNodeNs,
      freqPpm: clock.freqPpm,
      stepEpoch: clock.stepEpoch ?? 0,
    });
  }

  setAccess(a: AccessOptions): void {
    this.native.setAccess(packCidrs(a.allow), packCidrs(a.deny), (a.denyAction ?? 'kod') === 'kod');
  }

  /** Per-client rate limiting; null turns it off (the default). */
  setRateLimit(r: RateLimitOptions | null): void {
    const o = { intervalS: r?.intervalS ?? 0.125, burst: r?.burst ?? 16, kodIntervalS: r?.kodIntervalS ?? 1 };
    for (const [k, v] of Object.entries(o)) if (!(v > 0 && Number.isFinite(v))) throw new RangeError(`rate limit ${k} must be > 0`);
    this.native.setRateLimit({ enabled: r !== null, ...o });
  }

  /** Keys requests may be signed with; answers are signed with the request's key. */
  setKeys(keys: KeyRing, opts: { requireAuth?: boolean } = {}): void {
    this.native.setKeys([...keys.values()].map((k) => [k.id, (KEY_TYPES as readonly KeyType[]).indexOf(k.type), k.secret]));
    this.#config.requireAuth = opts.requireAuth ?? false;
    this.native.setResponderConfig(this.#config);
  }

  /**
   * NTS (RFC 8915): the master keys that open cookies, newest first (the
   * first seals the fresh ones); at most 3 are used, [] turns NTS off (NTS
   * fields are then ignored and such requests answered as plain NTP). The
   * cookies are src/ntp/nts.ts CookieJar's.
   */
  setNtsKeys(keys: readonly MasterKey[]): void {
    this.native.setNtsKeys(checkNtsKeys(keys).map((k) => [k.id, k.key]));
  }

  counters(): Record<ServerCounter, bigint> {
    const out = {} as Record<ServerCounter, bigint>;
    SERVER_COUNTERS.forEach((name, i) => (out[name] = this.#counters[i]!));
    return out;
  }
}
