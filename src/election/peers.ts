// What a node knows of its peers: their verified sessions, last words and
// liveness, and the challenges that verify a new session (docs/election.md,
// "Security"). Pure; the election decides, this only remembers.
import { Heap } from '../util/heap.js';
import type { Rng } from '../util/rng.js';
import type { Rank } from './precedence.js';
import { FLAG_REFERENCE, FLAG_SYNCED, MsgType, NO_AGE, Role, type ElectionMessage, type LeaderRef } from './wire.js';

export interface Addr {
  address: string;
  port: number;
}

export const addrKey = (a: Addr): string => `${a.address}|${a.port}`;

export interface PeerView extends Rank {
  address: string;
  port: number;
  role: Role;
  flags: number;
  floorNs: bigint;
  ntpPort: number;
  leader: LeaderRef | null;
  lastHeardMonoNs: bigint;
  live: boolean;
}

export interface Peer extends Omit<PeerView, 'live'> {
  bootId: bigint;
  seq: bigint;
  gone: boolean;
}

/** Peers remembered at most (a forged-id flood cannot grow the table without bound). */
const MAX_PEERS = 1024;

export class PeerTable {
  readonly #peers = new Map<string, Peer>();
  #grace: { from: bigint; until: bigint } | null = null;
  /**
   * When each peer turns dead, one entry per word heard (stale ones are
   * dropped as they surface): the next death is found without a scan, so a
   * server's work per message does not grow with the cluster.
   */
  readonly #deaths = new Heap<{ atNs: bigint; peer: Peer }>((a, b) => a.atNs < b.atNs);
  /** Peers whose last word said they serve (a handful: rivals are found without a scan). */
  readonly #servers = new Set<Peer>();
  #maxFloorNs = 0n;
  /** Bumped on every change, so callers can cache what they derive from the table. */
  #version = 0;

  constructor(
    readonly deadAfterNs: bigint,
    readonly heartbeatNs: bigint,
  ) {}

  get(id: string): Peer | undefined {
    return this.#peers.get(id);
  }
  get size(): number {
    return this.#peers.size;
  }
  get version(): number {
    return this.#version;
  }
  get graceUntil(): bigint | null {
    return this.#grace?.until ?? null;
  }

  /** 'replay': an old or repeated word of a known session; 'known': the next word of one; 'new': an unknown session. */
  session(m: ElectionMessage): 'replay' | 'known' | 'new' {
    const p = this.#peers.get(m.id);
    if (!p || p.bootId !== m.bootId) return 'new';
    return m.seq <= p.seq ? 'replay' : 'known';
  }

  /** Records a verified word from `from`, heard at heardMonoNs (its arrival). */
  record(m: ElectionMessage, from: Addr, heardMonoNs: bigint): void {
    let p = this.#peers.get(m.id);
    if (!p) {
      if (this.#peers.size >= MAX_PEERS) this.#evictOldest();
      p = { id: m.id } as Peer;
      this.#peers.set(m.id, p);
    }
    Object.assign(p, {
      address: from.address,
      port: from.port,
      bootId: m.bootId,
      seq: m.seq,
      role: m.type === MsgType.Leaving ? Role.None : m.role,
      flags: m.flags,
      priority: m.priority,
      stratum: m.stratum,
      hasReference: (m.flags & FLAG_REFERENCE) !== 0,
      synced: (m.flags & FLAG_SYNCED) !== 0,
      floorNs: m.floorNs,
      ntpPort: m.ntpPort,
      leader: m.leader,
      lastHeardMonoNs: heardMonoNs,
      gone: m.type === MsgType.Leaving,
    } satisfies Omit<Peer, 'id'>);
    if (p.role === Role.Server) this.#servers.add(p);
    else this.#servers.delete(p);
    if (m.floorNs > this.#maxFloorNs) this.#maxFloorNs = m.floorNs;
    this.#version++;
    this.#scheduleDeath(p);
    this.#vouch(m, heardMonoNs);
  }

  #scheduleDeath(p: Peer): void {
    if (!p.gone) this.#deaths.push({ atNs: p.lastHeardMonoNs + this.deadAfterNs + 1n, peer: p });
  }

  /**
   * Indirect liveness: a client that heard its leader recently vouches for
   * it, so one lossy path alone does not bury a live server. Only fresh word
   * counts (within 1.5 heartbeats): a peer that is itself about to give up on
   * the leader must not keep it alive for others.
   */
  #vouch(m: ElectionMessage, heardMonoNs: bigint): void {
    if (m.role !== Role.Client || !m.leader || m.leaderAgeMs === NO_AGE) return;
    if (BigInt(m.leaderAgeMs) * 2_000_000n > this.heartbeatNs * 3n) return;
    const l = this.#peers.get(m.leader.id);
    const heard = heardMonoNs - BigInt(m.leaderAgeMs) * 1_000_000n;
    if (l && !l.gone && heard > l.lastHeardMonoNs) {
      l.lastHeardMonoNs = heard;
      this.#scheduleDeath(l);
    }
  }

  #evictOldest(): void {
    let victim: Peer | null = null;
    for (const p of this.#peers.values()) if (!victim || p.lastHeardMonoNs < victim.lastHeardMonoNs) victim = p;
    if (victim) {
      this.#peers.delete(victim.id);
      this.#servers.delete(victim);
    }
  }

  /**
   * After a gap in our own attention (now − gapNs .. now): peers heard before
   * it count as live until `until`, while their queued words catch up. Their
   * lastHeard stays true: it is what we vouch for to others.
   */
  stalled(now: bigint, gapNs: bigint, until: bigint): void {
    this.#grace = { from: now - gapNs, until };
  }

  live(p: Peer, now: bigint): boolean {
    if (p.gone) return false;
    if (now - p.lastHeardMonoNs <= this.deadAfterNs) return true;
    const g = this.#grace;
    return g !== null && now < g.until && g.from - p.lastHeardMonoNs <= this.deadAfterNs;
  }

  /** Live and heard within 1.5 heartbeats: one gone quiet is likely dead. */
  fresh(p: Peer, now: bigint): boolean {
    return this.live(p, now) && (now - p.lastHeardMonoNs) * 2n <= this.heartbeatNs * 3n;
  }

  livePeers(now: bigint): Peer[] {
    return [...this.#peers.values()].filter((p) => this.live(p, now));
  }

  /** Live peers whose last word said they serve. */
  liveServers(now: bigint): Peer[] {
    const out: Peer[] = [];
    for (const p of this.#servers) if (this.live(p, now)) out.push(p);
    return out;
  }

  views(now: bigint): PeerView[] {
    return [...this.#peers.values()].map(({ bootId: _b, seq: _s, gone: _g, ...p }) => ({ ...p, live: this.live(p as Peer, now) }));
  }

  /**
   * The instant the next live peer would turn dead, if any, after now. A
   * peer past its time but alive by the stall grace is left to graceUntil.
   */
  nextDeathMonoNs(now: bigint): bigint | null {
    for (;;) {
      const e = this.#deaths.peek();
      if (!e) return null;
      const p = e.peer;
      const current = !p.gone && this.#peers.get(p.id) === p && e.atNs === p.lastHeardMonoNs + this.deadAfterNs + 1n;
      if (current && e.atNs > now) return e.atNs;
      this.#deaths.pop();
    }
  }

  /** The largest floor any peer has told us of (kept even once the peer is forgotten: a floor is never wrong to honour). */
  maxFloorNs(): bigint {
    return this.#maxFloorNs;
  }
}

/** A challenge nonce is good for this many heartbeats. */
const NONCE_LIFE_BEATS = 3n;
/** Challenges to strangers per heartbeat, beyond one per known peer. */
const MAX_CHALLENGES_PER_BEAT = 64;

/**
 * Our outstanding "are you the server?" challenges: at most one per address
 * per heartbeat unless renewed, and a budget per heartbeat, so spoofed
 * senders cannot turn us into a reflector.
 */
export class Challenges {
  readonly #nonces = new Map<bigint, bigint>();
  readonly #lastTo = new Map<string, bigint>();
  #budgetFrom = -(1n << 62n);
  #budget = 0;

  constructor(readonly heartbeatNs: bigint) {}

  /** A fresh nonce for `key`, or null when limited. `known`: peers we may owe one each. */
  issue(key: string, now: bigint, rng: Rng, again: boolean, known: number): bigint | null {
    const last = this.#lastTo.get(key);
    if (!again && last !== undefined && now - last < this.heartbeatNs) return null;
    if (now - this.#budgetFrom >= this.heartbeatNs) {
      this.#budgetFrom = now;
      this.#budget = MAX_CHALLENGES_PER_BEAT + known;
    }
    if (this.#budget <= 0) return null;
    this.#budget--;
    this.#lastTo.set(key, now);
    let nonce = rng.u64();
    if (nonce === 0n) nonce = 1n;
    this.#nonces.set(nonce, now + this.heartbeatNs * NONCE_LIFE_BEATS);
    return nonce;
  }

  /** Whether a Status echoing `nonce` answers one of our live challenges. */
  answers(nonce: bigint, now: bigint): boolean {
    return nonce !== 0n && (this.#nonces.get(nonce) ?? -1n) >= now;
  }

  /** Nonces expire in the order they were issued (a fixed life from a clock that does not go back): stop at the first live one. */
  expire(now: bigint): void {
    for (const [n, exp] of this.#nonces) {
      if (exp >= now) break;
      this.#nonces.delete(n);
    }
  }
}
