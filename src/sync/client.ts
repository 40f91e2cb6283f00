// The NTP client core: sources -> clock filter -> selection -> discipline.
// Methods take monotonic time (for timers) and cooked node time (for
// timestamps) and return actions; the daemon and the simulator carry them
// out. Also keeps the system variables a server advertises (RFC 5905 §11.2.3:
// stratum, root delay/dispersion, refid, reference time, leap).
import type { ClockCommand } from '../clock/driver.js';
import type { KeyRing } from '../ntp/auth.js';
import type { Aead } from '../ntp/nts.js';
import { Leap } from '../ntp/packet.js';
import { MAX_STRATUM, processBroadcast, type ResponseReject, type ServerState } from '../ntp/wire.js';
import type { Rng } from '../util/rng.js';
import { Discipline, type DisciplineOptions } from './discipline.js';
import { selectSources, type Candidate } from './select.js';
import type { NtsSessionResult } from './nts-source.js';
import { Source, type SourceConfig } from './source.js';

export type SyncEvent =
  | { kind: 'sample'; sourceId: string; offsetNs: bigint; delayNs: number }
  | { kind: 'reject'; sourceId: string; reason: ResponseReject['reason']; detail?: string }
  | { kind: 'demobilize'; sourceId: string; why: string }
  | { kind: 'step'; offsetNs: bigint }
  | { kind: 'system-peer'; sourceId: string | null }
  | { kind: 'nts'; sourceId: string; what: 'session' | 'ke-failed'; detail: string };

export type SyncAction =
  | { type: 'send'; sourceId: string; address: string; port: number; bytes: Uint8Array }
  /** NTS: run NTS-KE with address:port (its certificate must name serverName, or the address); answer with onNtsSession. */
  | { type: 'nts-ke'; sourceId: string; address: string; port: number; serverName: string | null }
  | { type: 'clock'; cmd: ClockCommand }
  | { type: 'timer'; atMonoNs: bigint }
  | { type: 'event'; event: SyncEvent };

export interface SyncClientOptions extends DisciplineOptions {
  keys?: KeyRing;
  /** Local clock precision, log2 s (default -20, about 1 µs). */
  localPrecisionLog2?: number;
  /** refid to advertise when a source is an IPv6 host or not an address (default: from the address). */
  refIdOf?: (address: string) => number;
  /** AEAD_AES_SIV_CMAC_256 for NTS sources (the addon's in the daemon). */
  aead?: Aead;
}

/** ntpd's poll-adjust rule (RFC 5905 §11.3): counts toward a longer or shorter poll. */
const POLL_LIMIT = 30;
const POLL_GATE = 4;
/** Broadcast servers heard at once. */
export const MAX_BROADCAST_SOURCES = 8;
/**
 * With a leap second pending, measurements this close to a UTC midnight are
 * dropped (as chrony does): around the leap the source and our kernel repeat
 * 23:59:59 at slightly different instants, and a sample taken between the two
 * reads as a 1 s error, with the source's leap indicator already cleared.
 */
export const LEAP_GUARD_NS = 5_000_000_000n;
const DAY_NS = 86_400_000_000_000n;

/** Whether node time nowNs is within LEAP_GUARD_NS of a UTC midnight. */
export function nearMidnight(nowNs: bigint): boolean {
  const r = ((nowNs % DAY_NS) + DAY_NS) % DAY_NS;
  return r < LEAP_GUARD_NS || r > DAY_NS - LEAP_GUARD_NS;
}

export class SyncClient {
  readonly #sources = new Map<string, Source>();
  readonly #discipline: Discipline;
  readonly #keys: KeyRing;
  readonly #precision: number;
  readonly #refIdOf: (address: string) => number;
  readonly #aead: Aead | undefined;
  #systemPeer: string | null = null;
  #system: ServerState | null = null;
  #pollCounter = 0;
  #pollLog2 = 0;
  #jitterNs = 0;
  lastOffsetNs: bigint | null = null;
  /** Broadcast packets that passed the checks, and that did not (before or after mobilizing a source). */
  readonly broadcastCounters = { accepted: 0, rejected: 0 };

  constructor(o: SyncClientOptions = {}) {
    this.#discipline = new Discipline(o);
    this.#keys = o.keys ?? new Map();
    this.#precision = o.localPrecisionLog2 ?? -20;
    this.#refIdOf = o.refIdOf ?? (() => 0);
    this.#aead = o.aead;
  }

  get discipline(): Discipline {
    return this.#discipline;
  }
  get systemPeer(): string | null {
    return this.#systemPeer;
  }
  get jitterNs(): number {
    return this.#jitterNs;
  }
  sources(): Source[] {
    return [...this.#sources.values()];
  }
  source(id: string): Source | undefined {
    return this.#sources.get(id);
  }

  addSource(cfg: SourceConfig, monoNs: bigint): SyncAction[] {
    if (this.#sources.has(cfg.id)) throw new Error(`source ${cfg.id} exists`);
    if (cfg.nts && !this.#aead) throw new Error(`source ${cfg.id}: NTS needs an AEAD (SyncClientOptions.aead)`);
    this.#sources.set(cfg.id, new Source(cfg, monoNs));
    return [{ type: 'timer', atMonoNs: monoNs }];
  }

  removeSource(id: string): SyncAction[] {
    this.#sources.delete(id);
    if (this.#systemPeer === id) return this.#reselect(null);
    return [];
  }

  /** Sends the requests that are due; returns them and the next wake-up. */
  onTimer(monoNs: bigint, rng: Rng): SyncAction[] {
    const actions: SyncAction[] = [];
    for (const s of this.#sources.values()) {
      const was = s.demobilized;
      if (s.takeKe(monoNs))
        actions.push({ type: 'nts-ke', sourceId: s.cfg.id, address: s.cfg.address, port: s.cfg.nts!.port, serverName: s.cfg.nts!.serverName });
      const bytes = s.poll(monoNs, rng, this.#keys, this.#aead);
      if (bytes) actions.push({ type: 'send', sourceId: s.cfg.id, address: s.target.address, port: s.target.port, bytes });
      if (!was && s.demobilized) {
        actions.push({ type: 'event', event: { kind: 'demobilize', sourceId: s.cfg.id, why: s.demobilized } });
        if (this.#systemPeer === s.cfg.id) actions.push(...this.#reselect(null));
      }
    }
    // Eight polls unanswered (RFC 5905 §13's reach register empty): the system peer is gone. With no other
    // source usable the clock free-runs and says so; another usable source is selected at its next sample.
    const peer = this.#systemPeer === null ? null : this.#sources.get(this.#systemPeer);
    if (peer && !peer.reachable && ![...this.#sources.values()].some((x) => x.last && x.reachable && !x.demobilized)) {
      actions.push(...this.#reselect(null));
    }
    const next = this.nextWakeMonoNs();
    if (next !== null) actions.push({ type: 'timer', atMonoNs: next });
    return actions;
  }

  nextWakeMonoNs(): bigint | null {
    let next: bigint | null = null;
    for (const s of this.#sources.values()) {
      if (!s.demobilized && (next === null || s.nextWakeMonoNs < next)) next = s.nextWakeMonoNs;
    }
    return next;
  }

  /** The request to `sourceId` left at t1Ns (cooked node time; a kernel TX stamp when there is one). */
  onSent(sourceId: string, t1Ns: bigint): void {
    this.#sources.get(sourceId)?.sent(t1Ns);
  }

  /** A datagram from a source's address; t4Ns is its RX stamp in cooked node time. */
  onResponse(sourceId: string, bytes: Uint8Array, t4Ns: bigint, monoNs: bigint): SyncAction[] {
    const s = this.#sources.get(sourceId);
    if (!s || this.#leapGuard(t4Ns)) return [];
    return this.#received(s, s.receive(bytes, t4Ns, monoNs, this.#precision, this.#keys, this.#aead), t4Ns);
  }

  /** The shell's answer to an 'nts-ke' action. */
  onNtsSession(sourceId: string, r: { session: NtsSessionResult } | { error: string }, monoNs: bigint): SyncAction[] {
    const s = this.#sources.get(sourceId);
    if (!s?.nts) return [];
    s.ntsSession(r, monoNs);
    const detail = 'error' in r ? r.error : `${r.session.cookies.length} cookies, NTP at ${r.session.ntpAddress}:${r.session.ntpPort}`;
    const actions: SyncAction[] = [{ type: 'event', event: { kind: 'nts', sourceId, what: 'error' in r ? 'ke-failed' : 'session', detail } }];
    const next = this.nextWakeMonoNs();
    if (next !== null) actions.push({ type: 'timer', atMonoNs: next });
    return actions;
  }

  /** A leap second is pending and nowNs is close to a UTC midnight: measurements are dropped (LEAP_GUARD_NS). */
  #leapGuard(nowNs: bigint): boolean {
    const pending = this.#system?.leap === Leap.Insert || this.#system?.leap === Leap.Delete;
    return pending && nearMidnight(nowNs);
  }

  /**
   * A broadcast (mode 5) packet from `from`. The first one that passes the
   * checks mobilizes a broadcast source, whose volley of client requests
   * measures the delay; later ones are samples. At most MAX_BROADCAST_SOURCES
   * servers are heard, so a flood of forged senders cannot grow the table.
   */
  onBroadcast(
    bytes: Uint8Array,
    from: { address: string; port: number },
    t4Ns: bigint,
    monoNs: bigint,
    opts: { requireAuth: boolean; minPollLog2?: number },
  ): SyncAction[] {
    if (this.#leapGuard(t4Ns)) return [];
    const id = `broadcast:${from.address}:${from.port}`;
    const s = this.#sources.get(id);
    if (s && !s.demobilized) {
      if (!s.listening) return []; // the volley is still measuring the delay
      const r = s.receiveBroadcast(bytes, t4Ns, monoNs, this.#precision, this.#keys, opts.requireAuth);
      this.broadcastCounters[r.result.ok ? 'accepted' : 'rejected']++;
      return this.#received(s, r, t4Ns);
    }
    const check = processBroadcast(bytes, {
      lastTransmitTs: null,
      t4Ns,
      delayNs: 0,
      localPrecisionLog2: this.#precision,
      keys: this.#keys,
      requireAuth: opts.requireAuth,
    });
    this.broadcastCounters[check.ok ? 'accepted' : 'rejected']++;
    if (!check.ok)
      return [{ type: 'event', event: { kind: 'reject', sourceId: id, reason: check.reason, ...('detail' in check ? { detail: String(check.detail) } : {}) } }];
    if (s) this.#sources.delete(id);
    const heard = [...this.#sources.values()].filter((x) => x.cfg.broadcast).length;
    if (heard >= MAX_BROADCAST_SOURCES) return [];
    const minPollLog2 = opts.minPollLog2 ?? 6;
    return this.addSource(
      { id, address: from.address, port: from.port, broadcast: true, iburst: true, minPollLog2, maxPollLog2: Math.max(minPollLog2, 17) },
      monoNs,
    );
  }

  #received(s: Source, { result, output }: ReturnType<Source['receive']>, t4Ns: bigint): SyncAction[] {
    const sourceId = s.cfg.id;
    const actions: SyncAction[] = [];
    if (!result.ok) {
      const detail = 'detail' in result ? String(result.detail) : 'code' in result ? result.code : undefined;
      actions.push({ type: 'event', event: { kind: 'reject', sourceId, reason: result.reason, ...(detail ? { detail } : {}) } });
      if (s.demobilized) {
        actions.push({ type: 'event', event: { kind: 'demobilize', sourceId, why: s.demobilized } });
        if (this.#systemPeer === sourceId) actions.push(...this.#reselect(null));
      }
      return actions;
    }
    actions.push({ type: 'event', event: { kind: 'sample', sourceId, offsetNs: result.sample.offsetNs, delayNs: result.sample.delayNs } });
    if (output) actions.push(...this.#update(t4Ns));
    const next = this.nextWakeMonoNs();
    if (next !== null) actions.push({ type: 'timer', atMonoNs: next });
    return actions;
  }

  #reselect(peer: string | null): SyncAction[] {
    if (peer === this.#systemPeer) return [];
    this.#systemPeer = peer;
    const actions: SyncAction[] = [{ type: 'event', event: { kind: 'system-peer', sourceId: peer } }];
    if (peer === null) {
      // No source left: the clock free-runs on its last frequency and says so.
      this.#system = null;
      actions.push({ type: 'clock', cmd: { type: 'status', synced: false, maxErrorNs: 16e9, estErrorNs: 16e9, leap: Leap.Unsynchronised } });
    }
    return actions;
  }

  /** Selection and the clock update (RFC 5905 §11.2, §11.3). */
  #update(nowNs: bigint): SyncAction[] {
    const usable = [...this.#sources.values()].filter((s) => s.last && s.reachable && !s.demobilized);
    if (usable.length === 0) return [];
    // Offsets relative to the largest one keep doubles precise even when a
    // 1970 board looks at a 2026 server (1.8e18 ns).
    const base = usable[0]!.last!.offsetNs;
    const cands: Candidate[] = usable.map((s) => ({
      id: s.cfg.id,
      offsetNs: Number(s.last!.offsetNs - base),
      rootDistanceNs: s.rootDistanceNs(nowNs),
      jitterNs: s.last!.jitterNs,
      stratum: s.last!.stratum,
    }));
    const sel = selectSources(cands);
    const actions: SyncAction[] = [];
    if (!sel) return this.#reselect(null);
    actions.push(...this.#reselect(sel.systemPeer));
    const peer = this.#sources.get(sel.systemPeer)!;
    const offsetNs = base + BigInt(Math.round(sel.offsetNs));
    const distance = peer.rootDistanceNs(nowNs);
    const result = this.#discipline.update({ offsetNs, localNs: nowNs, errorNs: distance, leap: peer.last!.leap, delayNs: peer.last!.delayNs });
    this.lastOffsetNs = offsetNs;
    this.#jitterNs = Math.sqrt(sel.jitterNs ** 2 + peer.last!.jitterNs ** 2);
    for (const s of this.#sources.values()) s.correct(result.phaseNs, result.freqDeltaPpm, nowNs);
    // As ntpd does after a step: the filters start over. Their stages carry
    // the old timescale's local times, whose aged dispersion would push every
    // source past the distance threshold until they scrolled out.
    if (result.stepped) for (const s of this.#sources.values()) s.filter.reset();
    if (result.stepped) actions.push({ type: 'event', event: { kind: 'step', offsetNs: result.phaseNs } });
    for (const cmd of result.commands) actions.push({ type: 'clock', cmd });
    const l = peer.last!;
    const refTime = result.stepped ? nowNs + result.phaseNs : nowNs;
    this.#system = {
      leap: l.leap === Leap.Unsynchronised ? Leap.None : l.leap,
      stratum: Math.min(MAX_STRATUM, l.stratum + 1),
      precisionLog2: this.#precision,
      refId: this.#refIdOf(peer.cfg.address),
      referenceNs: refTime,
      rootDelayNs: l.rootDelayNs + l.delayNs,
      // RFC 5905 A.5.5.1 (clock_update): peer root dispersion + dispersion + jitter + |offset|.
      rootDispersionNs: l.rootDispersionNs + l.dispersionNs + this.#jitterNs + (result.stepped ? 0 : Math.abs(Number(offsetNs))),
    };
    this.#adjustPoll(result.stepped ? Infinity : Math.abs(Number(offsetNs)));
    return actions;
  }

  /**
   * ntpd's rule (RFC 5905 A.5.5.2 poll_update): offsets well inside the
   * jitter lengthen the system poll, larger ones shorten it; each source
   * polls at the system poll clamped to its own minpoll..maxpoll.
   */
  #adjustPoll(absOffsetNs: number): void {
    const gate = POLL_GATE * Math.max(this.#jitterNs, 2 ** this.#precision * 1e9);
    if (absOffsetNs < gate) {
      // ntpd adds the poll exponent; at exponent 0 that would never grow, so at least 1.
      this.#pollCounter += Math.max(1, this.#pollLog2);
      if (this.#pollCounter > POLL_LIMIT) {
        this.#pollCounter = 0;
        this.#pollLog2++;
      }
    } else {
      this.#pollCounter -= 2 * this.#pollLog2;
      if (this.#pollCounter < -POLL_LIMIT) {
        this.#pollCounter = 0;
        this.#pollLog2--;
      }
    }
    const srcs = [...this.#sources.values()];
    this.#pollLog2 = Math.max(Math.min(...srcs.map((s) => s.cfg.minPollLog2)), Math.min(Math.max(...srcs.map((s) => s.cfg.maxPollLog2)), this.#pollLog2));
    for (const s of srcs) {
      // A listening broadcast source keeps the server's own interval.
      if (s.burstLeft === 0 && !s.listening) s.pollLog2 = Math.max(s.pollFloorLog2, Math.min(s.cfg.maxPollLog2, this.#pollLog2));
    }
  }

  /** What this node says as a server while synchronised to its sources; null when it is not. */
  serverState(): ServerState | null {
    return this.#system;
  }
}
