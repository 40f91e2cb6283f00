// One association with an NTP server (RFC 5905 §9, §13): its poll interval,
// burst, reachability register, outstanding request, filter and KoD state.
// Pure: the caller passes monotonic time for scheduling and node time for
// timestamps.
import type { KeyRing } from '../ntp/auth.js';
import {
  buildRequest,
  exchangeOf,
  PHI,
  processBroadcast,
  processResponse,
  type Exchange,
  type Outstanding,
  type ResponseReject,
  type ResponseResult,
} from '../ntp/wire.js';
import type { Rng } from '../util/rng.js';
import { ClockFilter, type FilterOutput } from './filter.js';

export interface SourceConfig {
  id: string;
  address: string;
  port: number;
  /** log2 s; defaults 6 and 10 as ntpd and chrony. */
  minPollLog2?: number;
  maxPollLog2?: number;
  /** Send a burst of requests at start and after unreachability (ntpd's iburst). */
  iburst?: boolean;
  keyId?: number | null;
  version?: number;
  /**
   * A broadcast server heard on the LAN (RFC 5905 §9.2, ntpd's
   * broadcastclient): a client/server volley measures the round trip, then
   * the source only listens to the server's mode-5 packets.
   */
  broadcast?: boolean;
  /**
   * Ask in interleaved form (RFC 9769, chrony's `xleave`): a server that
   * keeps its replies' kernel TX stamps answers with the previous reply's real
   * transmit time. Replies in basic form are used as ever.
   */
  interleaved?: boolean;
}

/** Unanswered requests after which interleaved form stops until a reply comes (chrony: 4): the server's stamp would be old. */
export const MAX_INTERLEAVED_MISSES = 4;

/** Requests in an initial burst, and their spacing (ntpd: 8 at 2 s; we use fewer, faster). */
export const BURST_COUNT = 4;
export const BURST_SPACING_NS = 1_000_000_000n;
/** A request not answered by this long after sending is lost (it is superseded by the next poll anyway). */
export const RESPONSE_TIMEOUT_NS = 4_000_000_000n;
/** RFC 5905 §11.2.1 uses MINDISP (10 ms) as the floor of root delay + delay; 1 ms suits a LAN. */
export const MIN_DELAY_FLOOR_NS = 1e6;

export class Source {
  readonly cfg: Required<Omit<SourceConfig, 'keyId'>> & { keyId: number | null };
  pollLog2: number;
  /** RFC 5905 §9.2 reach: one bit per poll, 1 when answered. */
  reach = 0;
  readonly filter = new ClockFilter();
  outstanding: (Outstanding & { sentMonoNs: bigint; t1Known: boolean }) | null = null;
  lastTransmitTs: bigint | null = null;
  nextPollMonoNs: bigint;
  burstLeft: number;
  demobilized: string | null = null;
  /** Raised by RATE kisses: the poll never drops below it again. */
  pollFloorLog2: number;
  /** The newest filter output, with the sample fields selection needs. */
  last: (FilterOutput & { stratum: number; rootDelayNs: number; rootDispersionNs: number; leap: number; refId: number; referenceNs: bigint | null }) | null =
    null;
  readonly counters = { sent: 0, accepted: 0, rejected: 0, timeouts: 0, kod: 0, interleaved: 0 };
  /** Whether the last accepted sample was interleaved. */
  lastInterleaved = false;
  /** The last accepted exchange, which the next request in interleaved form names (null: none, or too many misses since). */
  #prev: (Exchange & { sampledBasic: boolean }) | null = null;
  #misses = 0;
  /** Rejected responses by RFC 5905 §8 test (ResponseReject reason): what an attacker tried. */
  readonly rejects: Partial<Record<ResponseReject['reason'], number>> = {};
  /** Broadcast sources: the round trip the volley measured (null until it has). */
  broadcastDelayNs: number | null = null;
  #volleyMinDelayNs = Infinity;

  constructor(cfg: SourceConfig, monoNs: bigint) {
    this.cfg = {
      id: cfg.id,
      address: cfg.address,
      port: cfg.port,
      minPollLog2: cfg.minPollLog2 ?? 6,
      maxPollLog2: cfg.maxPollLog2 ?? 10,
      iburst: cfg.iburst ?? false,
      keyId: cfg.keyId ?? null,
      version: cfg.version ?? 4,
      broadcast: cfg.broadcast ?? false,
      interleaved: cfg.interleaved ?? false,
    };
    if (this.cfg.minPollLog2 > this.cfg.maxPollLog2) throw new RangeError(`source ${cfg.id}: minpoll > maxpoll`);
    this.pollLog2 = this.cfg.minPollLog2;
    this.pollFloorLog2 = this.cfg.minPollLog2;
    this.burstLeft = this.cfg.iburst ? BURST_COUNT : 1;
    this.nextPollMonoNs = monoNs;
  }

  get reachable(): boolean {
    return this.reach !== 0;
  }

  /** Whether this is a broadcast source past its volley: it listens and sends nothing. */
  get listening(): boolean {
    return this.broadcastDelayNs !== null;
  }

  /** Builds the next request if one is due. The caller sends it and reports t1 with sent(). */
  poll(monoNs: bigint, rng: Rng, keys: KeyRing): Uint8Array | null {
    if (this.demobilized || monoNs < this.nextPollMonoNs) return null;
    if (this.listening) {
      // A broadcast interval went by unheard; after eight the server is gone
      // and the association ends, as ntpd's ephemeral broadcast ones do.
      this.reach = (this.reach << 1) & 0xff;
      if (!this.reachable) this.demobilized = 'broadcasts stopped';
      this.nextPollMonoNs = monoNs + BigInt(2 ** this.pollLog2 * 1e9);
      return null;
    }
    if (this.outstanding) {
      this.counters.timeouts++;
      if (++this.#misses >= MAX_INTERLEAVED_MISSES) this.#prev = null;
    }
    const wasReachable = this.reachable;
    this.reach = (this.reach << 1) & 0xff;
    if (wasReachable && !this.reachable && this.cfg.iburst) this.burstLeft = BURST_COUNT;
    const key = this.cfg.keyId !== null ? keys.get(this.cfg.keyId) : undefined;
    const req = buildRequest({
      rng,
      pollLog2: this.pollLog2,
      version: this.cfg.version,
      ...(key ? { key } : {}),
      after: this.cfg.interleaved && this.cfg.version === 4 ? this.#prev : null,
    });
    this.outstanding = {
      interleaved: req.interleaved,
      transmitTs: req.transmitTs,
      t1Ns: 0n,
      t1Known: false,
      version: this.cfg.version,
      mode: 3,
      keyId: this.cfg.keyId,
      sentMonoNs: monoNs,
    };
    this.counters.sent++;
    this.#schedule(monoNs, rng);
    return req.bytes;
  }

  /** Records when the request left (node time); a later kernel TX stamp may refine it. */
  sent(t1Ns: bigint): void {
    if (this.outstanding) {
      this.outstanding.t1Ns = t1Ns;
      this.outstanding.t1Known = true;
    }
  }

  #schedule(monoNs: bigint, rng: Rng): void {
    if (this.burstLeft > 1) {
      this.burstLeft--;
      this.nextPollMonoNs = monoNs + BURST_SPACING_NS;
      return;
    }
    this.burstLeft = 0;
    // ±10 % randomisation keeps many clients from polling in lockstep.
    const base = 2 ** this.pollLog2 * 1e9;
    this.nextPollMonoNs = monoNs + BigInt(Math.round(base * (0.9 + 0.2 * rng.float())));
  }

  /** Checks a response (RFC 5905 §8) and feeds an accepted sample to the filter. */
  receive(bytes: Uint8Array, t4Ns: bigint, monoNs: bigint, localPrecisionLog2: number, keys: KeyRing): { result: ResponseResult; output: FilterOutput | null } {
    const out = this.outstanding;
    const usable = out && out.t1Known && monoNs - out.sentMonoNs <= RESPONSE_TIMEOUT_NS ? out : null;
    const result = processResponse(bytes, {
      outstanding: usable,
      lastTransmitTs: this.lastTransmitTs,
      t4Ns,
      localPrecisionLog2,
      keys,
      requireKeyId: this.cfg.keyId,
    });
    if (!result.ok) {
      this.#reject(result.reason);
      if (result.reason === 'kiss') this.#kiss(result.code, monoNs);
      return { result, output: null };
    }
    this.outstanding = null;
    this.lastTransmitTs = result.packet.transmitTs;
    this.reach |= 1;
    this.counters.accepted++;
    this.lastInterleaved = result.interleaved === true;
    if (this.lastInterleaved) this.counters.interleaved++;
    // The first interleaved reply completes an exchange already sampled in basic form: counted, not fed twice.
    const twice = this.lastInterleaved && this.#prev?.sampledBasic === true;
    // This exchange is the one the next request in interleaved form names.
    const p = result.packet;
    this.#prev = { ...exchangeOf(p, usable!.t1Ns, t4Ns), sampledBasic: !this.lastInterleaved };
    this.#misses = 0;
    if (twice) return { result, output: null };
    if (this.cfg.broadcast) {
      // The volley's best round trip calibrates the broadcasts that follow.
      this.#volleyMinDelayNs = Math.min(this.#volleyMinDelayNs, result.sample.delayNs);
      if (this.burstLeft === 0) {
        this.broadcastDelayNs = this.#volleyMinDelayNs;
        this.nextPollMonoNs = monoNs + BigInt(2 ** this.pollLog2 * 1.5e9);
      }
    }
    return { result, output: this.#feed(result) };
  }

  /** A mode-5 packet from this (listening) broadcast source. */
  receiveBroadcast(
    bytes: Uint8Array,
    t4Ns: bigint,
    monoNs: bigint,
    localPrecisionLog2: number,
    keys: KeyRing,
    requireAuth: boolean,
  ): { result: ResponseResult; output: FilterOutput | null } {
    const result = processBroadcast(bytes, {
      lastTransmitTs: this.lastTransmitTs,
      t4Ns,
      delayNs: this.broadcastDelayNs ?? 0,
      localPrecisionLog2,
      keys,
      requireAuth,
    });
    if (!result.ok) {
      this.#reject(result.reason);
      return { result, output: null };
    }
    this.lastTransmitTs = result.packet.transmitTs;
    this.reach |= 1;
    this.counters.accepted++;
    // Listen for the next one at the interval the server announces; miss it by half again and it counts as lost.
    this.pollLog2 = Math.max(0, Math.min(17, result.packet.poll));
    this.nextPollMonoNs = monoNs + BigInt(2 ** this.pollLog2 * 1.5e9);
    return { result, output: this.#feed(result) };
  }

  #reject(reason: ResponseReject['reason']): void {
    this.counters.rejected++;
    this.rejects[reason] = (this.rejects[reason] ?? 0) + 1;
  }

  #feed(result: ResponseResult & { ok: true }): FilterOutput | null {
    const output = this.filter.add(result.sample);
    if (output) {
      const s = result.sample;
      this.last = {
        ...output,
        stratum: s.stratum,
        rootDelayNs: s.rootDelayNs,
        rootDispersionNs: s.rootDispersionNs,
        leap: s.leap,
        refId: s.refId,
        referenceNs: s.referenceNs,
      };
    }
    return output;
  }

  /** RFC 5905 §7.4: RATE slows us down; DENY and RSTR end the association. */
  #kiss(code: string, monoNs: bigint): void {
    this.counters.kod++;
    this.outstanding = null;
    if (code === 'DENY' || code === 'RSTR') {
      this.demobilized = `kiss-o'-death ${code}`;
    } else if (code === 'RATE') {
      this.pollLog2 = Math.min(this.cfg.maxPollLog2, this.pollLog2 + 1);
      this.pollFloorLog2 = Math.max(this.pollFloorLog2, this.pollLog2);
      this.burstLeft = 0;
      const wait = BigInt(2 ** this.pollLog2 * 1e9);
      if (this.nextPollMonoNs < monoNs + wait) this.nextPollMonoNs = monoNs + wait;
    }
  }

  /**
   * The local clock was corrected by `phaseNs` and `freqPpm` at `atNs`:
   * re-express the filter's samples and the latest output against it.
   */
  correct(phaseNs: bigint, freqPpm: number, atNs: bigint): void {
    this.filter.correct(phaseNs, freqPpm, atNs);
    // The exchange an interleaved reply will complete was stamped on the clock before this correction.
    if (this.#prev) {
      const shift = (t: bigint) => t + phaseNs + BigInt(Math.round(freqPpm * 1e-6 * Number(t - atNs)));
      this.#prev = { ...this.#prev, t1Ns: shift(this.#prev.t1Ns), t4Ns: shift(this.#prev.t4Ns) };
    }
    if (this.last) this.last.offsetNs -= phaseNs + BigInt(Math.round(freqPpm * 1e-6 * Number(this.last.localNs - atNs)));
  }

  /** Root distance λ (RFC 5905 §11.2.1) of the latest output at local time nowNs. */
  rootDistanceNs(nowNs: bigint): number {
    const l = this.last;
    if (!l) return Infinity;
    const age = Math.max(0, Number(nowNs - l.localNs)) / 1e9;
    return Math.max(MIN_DELAY_FLOOR_NS, l.rootDelayNs + l.delayNs) / 2 + l.rootDispersionNs + l.dispersionNs + PHI * age * 1e9 + l.jitterNs;
  }
}
