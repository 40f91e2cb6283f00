// One association with an NTP server (RFC 5905 §9, §13): its poll interval,
// burst, reachability register, outstanding request, filter and KoD state.
// Pure: the caller passes monotonic time for scheduling and node time for
// timestamps.
import type { KeyRing } from '../ntp/auth.js';
import type { Aead } from '../ntp/nts.js';
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
import { NtsState, type NtsSessionResult } from './nts-source.js';

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
  /**
   * NTS (RFC 8915): before its first request, and whenever it runs out of
   * cookies or is NAKed, the source asks the shell for an NTS-KE session
   * with the server at `port` (an 'nts-ke' action); every request then
   * carries a cookie and only answers that authenticate count.
   */
  nts?: { port: number; serverName: string | null } | null;
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
  readonly cfg: Required<Omit<SourceConfig, 'keyId' | 'nts'>> & { keyId: number | null; nts: { port: number; serverName: string | null } | null };
  /** Where requests go and answers come from: the configured server, or the one NTS-KE named. */
  target: { address: string; port: number };
  /** NTS state; null for a source without NTS. */
  readonly nts: NtsState | null;
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
      nts: cfg.nts ?? null,
    };
    this.target = { address: cfg.address, port: cfg.port };
    this.nts = this.cfg.nts ? new NtsState() : null;
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

  /** NTS: whether the shell should run NTS-KE for this source now (and it is marked as running). */
  takeKe(monoNs: bigint): boolean {
    return !this.demobilized && this.nts !== null && this.nts.takeKe(monoNs);
  }

  /** NTS: the shell's NTS-KE run ended (a session, or why not); a session makes the next poll due now. */
  ntsSession(r: { session: NtsSessionResult } | { error: string }, monoNs: bigint): void {
    if (!this.nts) return;
    this.nts.ended(r, monoNs, BigInt(2 ** this.cfg.maxPollLog2 * 1e9));
    if ('error' in r) {
      // A poll that got no time: the reach register says so (RFC 5905 §13), so a server whose NTS-KE is down
      // stops being selectable.
      this.reach = (this.reach << 1) & 0xff;
      return;
    }
    this.target = { address: r.session.ntpAddress, port: r.session.ntpPort };
    if (this.nextPollMonoNs > monoNs) this.nextPollMonoNs = monoNs;
  }

  /** When this source next needs the shell or the timer: its poll, or its NTS-KE retry. */
  get nextWakeMonoNs(): bigint {
    const n = this.nts;
    if (n && !n.hasCookies) {
      // Without cookies nothing is sent: wake for the next NTS-KE run, or, while one runs, only as a watchdog
      // (its end wakes the client).
      return n.running ? this.nextPollMonoNs + BigInt(2 ** this.cfg.maxPollLog2 * 1e9) : n.nextKeMonoNs;
    }
    return this.nextPollMonoNs;
  }

  /** Builds the next request if one is due. The caller sends it and reports t1 with sent(). */
  poll(monoNs: bigint, rng: Rng, keys: KeyRing, aead?: Aead): Uint8Array | null {
    if (this.demobilized || monoNs < this.nextPollMonoNs) return null;
    // NTS without a cookie: nothing to send until NTS-KE gives some (takeKe asks the shell).
    if (this.nts && !this.nts.hasCookies) return null;
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
    let bytes = req.bytes;
    if (this.nts) {
      if (!aead) throw new Error(`source ${this.cfg.id}: NTS needs an AEAD (SyncClientOptions.aead)`);
      bytes = this.nts.seal(req.packet, rng, aead);
    }
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
    return bytes;
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

  /** Checks a response (RFC 5905 §8; NTS, RFC 8915 §5.7) and feeds an accepted sample to the filter. */
  receive(
    bytes: Uint8Array,
    t4Ns: bigint,
    monoNs: bigint,
    localPrecisionLog2: number,
    keys: KeyRing,
    aead?: Aead,
  ): { result: ResponseResult; output: FilterOutput | null } {
    const why = this.nts ? this.nts.open(bytes, monoNs, aead) : null;
    if (why !== null) {
      const result: ResponseResult = { ok: false, reason: 'test5-auth', detail: `NTS: ${why}` };
      this.#reject(result.reason);
      return { result, output: null };
    }
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
