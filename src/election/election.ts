// The election (seed 000, extended as docs/election.md describes): who
// serves the cluster and whom everyone else follows. A pure state machine:
// every input takes (…, nowMonoNs, rng) and returns actions (send, serve,
// follow, raise the clock, arm a timer, log an event); the daemon and the
// simulator carry them out.
import type { Rng } from '../util/rng.js';
import { heardRank, Hearsay, Sweep, SWEEP_STEPS_PER_BEAT } from './discovery.js';
import { addrKey, Challenges, PeerTable, type Addr, type Peer, type PeerView } from './peers.js';
import { best, comparePrecedence, type Rank } from './precedence.js';
import {
  decodeMessage,
  encodeMessage,
  FLAG_CANNOT_SERVE,
  FLAG_REFERENCE,
  FLAG_SYNCED,
  MAX_CANDIDATES,
  MsgType,
  NO_AGE,
  Role,
  type Candidate,
  type ClusterKey,
  type ElectionMessage,
  type LeaderRef,
} from './wire.js';

export interface ElectionConfig {
  id: string;
  /** 0 is the highest (the seed's rule). */
  priority: number;
  /** Cluster addresses to ask; may include this node's own (recognised and skipped). */
  peers: Addr[];
  /** This node's NTP port, advertised so followers know where to poll. */
  ntpPort: number;
  /** Stratum this node serves at with no reference (default 10). */
  localStratum?: number;
  heartbeatNs?: bigint;
  /** Heartbeats a peer may miss before it is dead (default 2: a dead server is replaced in ≈2.5 intervals). */
  missCount?: number;
  /** How long a booting node listens before it decides (default one heartbeat). */
  discoverNs?: bigint;
  /** How long to wait for a better candidate that does not serve (default (serveAttempts + 2) heartbeats: the seed's 5 s). */
  successionWaitNs?: bigint;
  /** Attempts to start serving before deferring to the next node (default 3, as the seed). */
  serveAttempts?: number;
  serveRetryNs?: bigint;
  /** After giving up, how long this node stays out of the succession (default 60 s). */
  serveBackoffNs?: bigint;
  /** Let a better node that boots later displace a healthy server (default false). */
  preempt?: boolean;
  /** Also announce to the multicast group (the runtime knows its address). */
  multicast?: boolean;
  key?: ClusterKey;
  /** The time floor saved by the last run, Unix ns (0n: none). */
  floorNs?: bigint;
}

export type ElectionEvent =
  | { kind: 'role'; from: Role; to: Role; why: string }
  | { kind: 'leader'; leader: LeaderRef | null }
  | { kind: 'serve-failed'; attempt: number; gaveUp: boolean }
  | { kind: 'stalled'; gapNs: bigint }
  | { kind: 'id-conflict'; address: string }
  /** A node at `address` speaks another version of the election protocol (an older clocktower): its words are ignored. */
  | { kind: 'old-version'; address: string; version: number };

export type ElectionAction =
  | { type: 'send'; to: Addr | 'multicast'; bytes: Uint8Array; msgType: MsgType }
  /** on: try to serve NTP and report with onServeResult(); off: stop being the cluster's server. */
  | { type: 'serve'; on: boolean }
  | { type: 'follow'; leader: LeaderRef | null }
  /** This node now serves without a reference: never earlier than the largest floor any node saved. */
  | { type: 'raise-clock'; minNodeNs: bigint }
  | { type: 'timer'; atMonoNs: bigint }
  | { type: 'event'; event: ElectionEvent };

export const ELECTION_COUNTERS = [
  'received',
  'sentQuery',
  'sentStatus',
  'sentLeaving',
  'dropMalformed',
  'dropUnauthenticated',
  'dropBadMac',
  'dropReplay',
  'dropVersion',
  'unverified',
  'challenges',
] as const;
export type ElectionCounter = (typeof ELECTION_COUNTERS)[number];

const S = 1_000_000_000n;

/** Re-exported: callers name addresses and peer views through the election. */
export type { Addr, PeerView };

export class Election {
  readonly cfg: Required<Omit<ElectionConfig, 'key'>> & { key: ClusterKey | null };
  readonly counters = Object.fromEntries(ELECTION_COUNTERS.map((c) => [c, 0])) as Record<ElectionCounter, number>;
  #role = Role.None;
  #leader: LeaderRef | null = null;
  #bootId = 0n;
  #seq = 0n;
  readonly #peers: PeerTable;
  readonly #challenges: Challenges;
  readonly #selfAddrs = new Set<string>();
  readonly #nudged = new Map<string, bigint>();
  #hasReference = false;
  #refStratum = 0;
  #synced = false;
  #floorNs: bigint;
  #raisedToNs = 0n;
  #started = false;
  #discoverUntil: bigint | null = null;
  #starting = false;
  #serveFailures = 0;
  #retryAt: bigint | null = null;
  #cannotServeUntil: bigint | null = null;
  #waiting: { id: string; deadline: bigint } | null = null;
  readonly #skipped = new Set<string>();
  #heartbeatAt = 0n;
  #lastBeatMonoNs = 0n;
  #wakeAt: bigint | null = null;
  /** The time of the input being handled (messages built now say whether we can serve now). */
  #now = 0n;
  /** The successors each server we heard last named (a server's first words may come before we follow it). */
  readonly #named = new Map<string, Candidate[]>();
  /** Candidates named to us (our lost server's successors, a booting peer's best) that we have not heard from. */
  readonly #hearsay = new Hearsay();
  /** While we know of no server: our paced sweep of the static addresses, and whether we were searching when last we looked. */
  readonly #sweep: Sweep;
  #searching = true;
  /** The best live peers that can serve, as last named, and the table version and time they were picked at. */
  #namedCache: { version: number; atNs: bigint; list: Candidate[] } | null = null;
  /** When we last asked a silent server whether it is still there. */
  #probedAt = -(1n << 62n);
  /** Addresses already reported as speaking another protocol version (bounded). */
  readonly #oldVersions = new Set<string>();

  constructor(cfg: ElectionConfig) {
    const hb = cfg.heartbeatNs ?? S;
    const attempts = cfg.serveAttempts ?? 3;
    if (!(hb > 0n)) throw new RangeError('heartbeat must be > 0');
    if (!Number.isInteger(cfg.priority) || cfg.priority < 0 || cfg.priority > 0xffffffff) throw new RangeError('priority must be an integer 0..4294967295');
    this.cfg = {
      id: cfg.id,
      priority: cfg.priority,
      peers: cfg.peers,
      ntpPort: cfg.ntpPort,
      localStratum: cfg.localStratum ?? 10,
      heartbeatNs: hb,
      missCount: cfg.missCount ?? 2,
      discoverNs: cfg.discoverNs ?? hb,
      successionWaitNs: cfg.successionWaitNs ?? hb * BigInt(attempts + 2),
      serveAttempts: attempts,
      serveRetryNs: cfg.serveRetryNs ?? hb,
      serveBackoffNs: cfg.serveBackoffNs ?? 60n * S,
      preempt: cfg.preempt ?? false,
      multicast: cfg.multicast ?? false,
      key: cfg.key ?? null,
      floorNs: cfg.floorNs ?? 0n,
    };
    this.#floorNs = this.cfg.floorNs;
    this.#peers = new PeerTable(this.deadAfterNs, hb);
    this.#challenges = new Challenges(hb);
    this.#sweep = new Sweep(hb / SWEEP_STEPS_PER_BEAT > 0n ? hb / SWEEP_STEPS_PER_BEAT : 1n);
  }

  get role(): Role {
    return this.#role;
  }
  get leader(): LeaderRef | null {
    return this.#leader;
  }
  get bootId(): bigint {
    return this.#bootId;
  }
  /** A peer is dead after missCount heartbeats and a half without a word from it. */
  get deadAfterNs(): bigint {
    return this.cfg.heartbeatNs * BigInt(this.cfg.missCount) + this.cfg.heartbeatNs / 2n;
  }

  /** This node's rank, as its messages advertise it. */
  rank(): Rank {
    return {
      id: this.cfg.id,
      priority: this.cfg.priority,
      stratum: this.#stratum(),
      hasReference: this.#hasReference,
      synced: this.#synced || this.#role === Role.Server,
    };
  }

  peers(nowMonoNs: bigint): PeerView[] {
    return this.#peers.views(nowMonoNs);
  }

  /** Boot: start asking the known hosts "are you the server?" (the sweep) and listen for a while. */
  start(nowMonoNs: bigint, rng: Rng): ElectionAction[] {
    this.#now = nowMonoNs;
    if (this.#started) throw new Error('election already started');
    this.#started = true;
    this.#bootId = rng.u64() | 1n;
    this.#discoverUntil = nowMonoNs + this.cfg.discoverNs;
    // A random phase keeps nodes that boot together from beating in lockstep.
    this.#heartbeatAt = nowMonoNs + BigInt(Math.floor(Number(this.cfg.heartbeatNs) * (0.5 + 0.5 * rng.float())));
    this.#lastBeatMonoNs = nowMonoNs;
    const out: ElectionAction[] = [];
    this.#sweep.begin(this.cfg.peers, nowMonoNs);
    this.#sweepStep(out, nowMonoNs, rng);
    if (this.cfg.multicast) this.#query(out, 'multicast', nowMonoNs, rng);
    return this.#finish(out, nowMonoNs, rng);
  }

  /** Shutdown: tell every peer, so a server's followers fail over at once. */
  stop(nowMonoNs: bigint): ElectionAction[] {
    this.#now = nowMonoNs;
    const out: ElectionAction[] = [];
    for (const { to } of this.#targets(nowMonoNs)) this.#send(out, to, MsgType.Leaving, 0n);
    if (this.#role === Role.Server) out.push({ type: 'serve', on: false });
    this.#setRole(out, Role.None, 'shutting down');
    this.#started = false;
    return out;
  }

  /**
   * What the node's clock says about itself: a reference (upstream or
   * trusted) and its stratum; `synced`: the clock carries the cluster's time
   * (synchronised at least once since boot, holding over after); its floor.
   */
  update(s: { hasReference?: boolean; refStratum?: number; synced?: boolean; floorNs?: bigint }, nowMonoNs: bigint, rng: Rng): ElectionAction[] {
    if (s.hasReference !== undefined) this.#hasReference = s.hasReference;
    if (s.refStratum !== undefined) this.#refStratum = s.refStratum;
    if (s.synced !== undefined) this.#synced = s.synced;
    if (s.floorNs !== undefined && s.floorNs > this.#floorNs) this.#floorNs = s.floorNs;
    this.#now = nowMonoNs;
    return this.#started ? this.#finish([], nowMonoNs, rng) : [];
  }

  onTimer(nowMonoNs: bigint, rng: Rng): ElectionAction[] {
    this.#now = nowMonoNs;
    if (!this.#started) return [];
    const out: ElectionAction[] = [];
    this.#checkStall(out, nowMonoNs);
    if (nowMonoNs >= this.#heartbeatAt) {
      this.#heartbeat(out, nowMonoNs, rng);
      while (this.#heartbeatAt <= nowMonoNs) this.#heartbeatAt += this.cfg.heartbeatNs;
    } else {
      const probe = this.#probeDue(nowMonoNs);
      if (probe !== null && nowMonoNs >= probe) this.#probe(out, nowMonoNs, rng);
    }
    if (this.#sweep.stepDue(nowMonoNs)) this.#sweepStep(out, nowMonoNs, rng);
    return this.#finish(out, nowMonoNs, rng);
  }

  onServeResult(ok: boolean, nowMonoNs: bigint, rng: Rng): ElectionAction[] {
    this.#now = nowMonoNs;
    if (!this.#starting) return [];
    this.#starting = false;
    const out: ElectionAction[] = [];
    if (ok) {
      this.#serveFailures = 0;
      this.#waiting = null;
      if (this.#leader) this.#follow(out, null);
      this.#setRole(out, Role.Server, 'serving');
      this.#raiseFloor(out, true);
      this.#heartbeat(out, nowMonoNs, rng);
    } else {
      this.#serveFailures++;
      const gaveUp = this.#serveFailures >= this.cfg.serveAttempts;
      out.push({ type: 'event', event: { kind: 'serve-failed', attempt: this.#serveFailures, gaveUp } });
      if (gaveUp) {
        // Seed frame 13: give up and look for whoever is next.
        this.#serveFailures = 0;
        this.#cannotServeUntil = nowMonoNs + this.cfg.serveBackoffNs;
        // Tell everyone, not only those above us: nodes waiting for us move on at once.
        this.#sendAll(out, nowMonoNs, rng);
      } else {
        this.#retryAt = nowMonoNs + this.cfg.serveRetryNs;
      }
    }
    return this.#finish(out, nowMonoNs, rng);
  }

  /**
   * A datagram from `from`. rxMonoNs is when it arrived (the kernel RX
   * stamp, on the monotonic scale): after a stall, queued words are as old
   * as their arrival, not as fresh as their reading.
   */
  onMessage(bytes: Uint8Array, from: Addr, nowMonoNs: bigint, rng: Rng, rxMonoNs = nowMonoNs): ElectionAction[] {
    this.#now = nowMonoNs;
    if (!this.#started) return [];
    const r = decodeMessage(bytes, this.cfg.key ?? undefined);
    if (!r.ok) {
      if (r.reason === 'version') {
        this.counters.dropVersion++;
        const k = addrKey(from);
        if (this.#oldVersions.has(k) || this.#oldVersions.size >= 64) return [];
        this.#oldVersions.add(k);
        return [{ type: 'event', event: { kind: 'old-version', address: from.address, version: r.version } }];
      }
      this.counters[r.reason === 'malformed' ? 'dropMalformed' : r.reason === 'bad-mac' ? 'dropBadMac' : 'dropUnauthenticated']++;
      return [];
    }
    const m = r.msg;
    const out: ElectionAction[] = [];
    if (m.id === this.cfg.id) {
      if (m.bootId === this.#bootId) this.#selfAddrs.add(addrKey(from));
      else out.push({ type: 'event', event: { kind: 'id-conflict', address: from.address } });
      return out;
    }
    this.counters.received++;
    this.#checkStall(out, nowMonoNs);
    const session = this.#peers.session(m);
    if (session === 'replay') {
      this.counters.dropReplay++;
      return out;
    }
    // A new session is believed only when it answers one of our live challenges.
    if (session === 'new' && !(m.type === MsgType.Status && this.#challenges.answers(m.nonce, nowMonoNs))) {
      // An unknown session (a new peer, a restart, or a replay from an old
      // boot): its words change nothing until it answers a fresh challenge.
      this.counters.unverified++;
      if (m.type === MsgType.Query) this.#send(out, from, MsgType.Status, m.nonce);
      // A query proves the sender is up now, so an earlier challenge to it may simply have been lost; a
      // server's word matters now, and the answer to our last challenge may have overtaken it.
      if (m.type !== MsgType.Leaving) this.#query(out, from, nowMonoNs, rng, m.type === MsgType.Query || m.role === Role.Server);
      return this.#finish(out, nowMonoNs, rng);
    }
    this.#peers.record(m, from, rxMonoNs < nowMonoNs ? rxMonoNs : nowMonoNs);
    // A server's word on who comes next: the succession if we follow it and lose it.
    if (m.role === Role.Server) {
      if (this.#named.size >= 16 && !this.#named.has(m.id)) this.#named.clear();
      this.#named.set(m.id, m.candidates);
    } else if (m.role === Role.None && this.#role === Role.None) {
      // A peer that knows of no server either names the best it has heard from. Knowing of a better
      // node is enough to stop sweeping and wait for it (its word is good for a heartbeat): if it is the
      // best, its own sweep reaches us. Asking it at once would have every node ask the best few.
      for (const c of m.candidates) if (c.id !== this.cfg.id) this.#hearsay.hear(c, nowMonoNs + this.cfg.heartbeatNs);
    }
    if (m.type === MsgType.Query) this.#send(out, from, MsgType.Status, m.nonce);
    return this.#finish(out, nowMonoNs, rng);
  }

  // ---- decisions -------------------------------------------------------

  #finish(out: ElectionAction[], now: bigint, rng: Rng): ElectionAction[] {
    for (let guard = 0; guard < 8 && this.#evaluate(out, now, rng); guard++);
    this.#challenges.expire(now);
    this.#wakeAt = this.#nextWake(now);
    out.push({ type: 'timer', atMonoNs: this.#wakeAt });
    return out;
  }

  /** One step of the rules; true when the state changed and the rules must run again. */
  #evaluate(out: ElectionAction[], now: bigint, rng: Rng): boolean {
    const self = this.rank();
    if (this.#role === Role.Server) {
      const rivals = this.#peers.livePeers(now).filter((p) => p.role === Role.Server);
      const better = best(rivals.filter((p) => comparePrecedence(p, self) < 0));
      if (better) {
        // Seed frames 21-24: the lower-precedence server steps down, and tells
        // everyone it reached as a server whom it follows now: its clients hear
        // from it no more (a client speaks only to its own server) and follow on.
        out.push({ type: 'serve', on: false });
        this.#follow(out, this.#ref(better));
        this.#setRole(out, Role.Client, `server ${better.id} outranks this node`);
        this.#sendAll(out, now, rng);
        return true;
      }
      // Tell a worse server now rather than at our next beat, so it steps down sooner.
      for (const r of rivals) this.#nudge(out, r, now);
      this.#raiseFloor(out, false);
      return false;
    }
    if (this.#role === Role.Client) {
      const L = this.#leader ? this.#peers.get(this.#leader.id) : undefined;
      if (L && this.#peers.live(L, now) && L.role === Role.Server) {
        // Upstream time (a stratum below our local one) displaces a server
        // without a reference; an operator-trusted clock does not: the
        // cluster's time already descends from one, and a switch would cost
        // every client a correction for nothing (docs/election.md, rule 7).
        const upstream = this.#hasReference && this.#refStratum < this.cfg.localStratum;
        const mayPreempt = this.cfg.preempt || (upstream && !L.hasReference);
        if (mayPreempt && this.#synced && comparePrecedence(self, L) < 0 && !this.#cannotServe(now)) {
          this.#startServe(out);
          return true;
        }
        return false;
      }
      if (L && this.#peers.live(L, now) && L.role === Role.Client && L.leader && L.leader.id !== this.cfg.id) {
        // Our server stepped down and follows another: follow that one (seed: a client answers with its server).
        const next = this.#peers.get(L.leader.id);
        if (next && this.#peers.live(next, now) && next.role === Role.Server) {
          this.#follow(out, this.#ref(next));
          return true;
        }
        this.#query(out, { address: L.leader.address, port: L.leader.port }, now, rng);
        return false;
      }
      const why = L && this.#peers.live(L, now) ? `leader ${L.id} stopped serving` : `leader ${this.#leader?.id} lost`;
      // The successors the server named count as candidates while the succession runs (successionWait),
      // heard or not: they do not speak to clients, and the first of them is taking over.
      const until = now + this.cfg.successionWaitNs;
      const named = this.#leader ? (this.#named.get(this.#leader.id) ?? []) : [];
      for (const c of named) this.#hearsay.hear(c, until, true);
      this.#follow(out, null);
      this.#setRole(out, Role.None, named.length ? `${why}; named next: ${named.map((c) => c.id).join(', ')}` : why);
      // Named first, or better than the first named (the list is a beat old), this node takes over
      // without sweeping: the server knew every live peer.
      if (named[0] && (named[0].id === this.cfg.id || comparePrecedence(this.rank(), heardRank(named[0], true)) < 0)) this.#sweep.stop(now);
      // Ask the first named successor at once rather than at the next beat (it is taking over, and
      // its answer says so); the others we only wait for, so they are not asked by the whole cluster.
      const first = best(this.#hearsay.ranks(now, this.cfg.id, this.#peers));
      if (first && first.id !== this.cfg.id) this.#query(out, first, now, rng);
      return true;
    }
    // Role.None
    if (this.#starting || (this.#discoverUntil !== null && now < this.#discoverUntil)) return false;
    this.#discoverUntil = null;
    const { live, server, cands } = this.#survey(now);
    // Follow only a server heard within 1.5 heartbeats: one that has gone
    // quiet is likely dead, and following it would mean a second change soon.
    if (server) {
      this.#retryAt = null;
      this.#waiting = null;
      this.#skipped.clear();
      this.#follow(out, this.#ref(server));
      this.#setRole(out, Role.Client, `${server.id} is the server`);
      return true;
    }
    // Between failed attempts to serve; the retry itself goes through the
    // rules below, so a better node that appeared meanwhile is deferred to.
    if (this.#retryAt !== null) {
      if (now < this.#retryAt) return false;
      this.#retryAt = null;
    }
    // Follow clients to a server we have not heard from yet.
    for (const p of live) {
      if (p.role === Role.Client && p.leader && p.leader.id !== this.cfg.id && !this.#peers.get(p.leader.id)?.gone) {
        this.#query(out, { address: p.leader.address, port: p.leader.port }, now, rng);
      }
    }
    const top = best<Rank>(this.#cannotServe(now) ? cands : [...cands, self]);
    if (!top) return false;
    if (top.id === this.cfg.id) {
      // Best of those we know, but we may not know everyone yet: the sweep goes on until it is through.
      if (!this.#sweep.done(now)) return false;
      this.#startServe(out);
      return true;
    }
    // The order of succession: wait a bounded time for the node above us.
    if (this.#waiting?.id !== top.id) {
      this.#waiting = { id: top.id, deadline: now + this.cfg.successionWaitNs };
      return false;
    }
    if (now >= this.#waiting.deadline) {
      this.#skipped.add(top.id);
      this.#waiting = null;
      return true;
    }
    return false;
  }

  /**
   * What a node that knows of no server sees: a fresh server to follow, the
   * candidates (live peers that can serve, and hearsay: nodes named to us we
   * have not heard from, such as our lost server's successors), and whether
   * this node is searching: it may be the best, and nobody has told it of a
   * server. Only a searching node speaks to the whole cluster. A node that
   * starts searching again sweeps again: the peers it asked before may have
   * gone quiet (clients speak only to their server), not away.
   */
  #survey(now: bigint): { live: Peer[]; server: Peer | null; cands: (Rank & Addr)[]; searching: boolean } {
    const live = this.#peers.livePeers(now);
    const server = best(live.filter((p) => p.role === Role.Server && this.#peers.fresh(p, now)));
    const cands: (Rank & Addr)[] = live.filter((p) => (p.flags & FLAG_CANNOT_SERVE) === 0 && !this.#skipped.has(p.id));
    for (const h of this.#hearsay.ranks(now, this.cfg.id, this.#peers)) if (!this.#skipped.has(h.id)) cands.push(h);
    const top = best(cands);
    const toldOfServer = live.some((p) => p.role === Role.Client && p.leader && p.leader.id !== this.cfg.id && !this.#peers.get(p.leader.id)?.gone);
    const mayLead = top === null || (!this.#cannotServe(now) && comparePrecedence(this.rank(), top) < 0);
    const searching = !server && !toldOfServer && mayLead;
    if (searching && !this.#searching) this.#sweep.begin(this.cfg.peers, now);
    this.#searching = searching;
    return { live, server, cands, searching };
  }

  /**
   * The best live peers that can serve: a server names them as next in
   * succession, a node that knows of no server as the best it has heard
   * from. Picked without sorting and kept while the table is unchanged, so
   * a server's beat to N nodes costs O(N), not O(N² log N).
   */
  #candidates(now: bigint): Candidate[] {
    const c = this.#namedCache;
    if (c && c.version === this.#peers.version && c.atNs === now) return c.list;
    const top: Peer[] = [];
    const flagsOf = (p: Peer): number => (p.role === Role.Client && p.leader?.id === this.cfg.id ? p.flags | FLAG_SYNCED : p.flags);
    // Its own clients carry its time (their synced flag can lag their first sample by a beat).
    const rankOf = (p: Peer): Rank => ((flagsOf(p) & FLAG_SYNCED) !== 0 && !p.synced ? { ...p, synced: true } : p);
    for (const p of this.#peers.livePeers(now)) {
      if ((p.flags & FLAG_CANNOT_SERVE) !== 0) continue;
      let i = top.length;
      while (i > 0 && comparePrecedence(rankOf(p), rankOf(top[i - 1]!)) < 0) i--;
      if (i < MAX_CANDIDATES) {
        top.splice(i, 0, p);
        if (top.length > MAX_CANDIDATES) top.pop();
      }
    }
    const list = top.map((p) => ({
      id: p.id,
      address: p.address,
      port: p.port,
      ntpPort: p.ntpPort,
      priority: p.priority,
      stratum: p.stratum,
      flags: flagsOf(p),
    }));
    this.#namedCache = { version: this.#peers.version, atNs: now, list };
    return list;
  }

  #startServe(out: ElectionAction[]): void {
    this.#starting = true;
    this.#waiting = null;
    out.push({ type: 'serve', on: true });
  }

  #cannotServe(now: bigint): boolean {
    return this.#cannotServeUntil !== null && now < this.#cannotServeUntil;
  }

  /** Serving with no reference: start no earlier than any floor we have heard of (a whole LAN's fake-hwclock). */
  #raiseFloor(out: ElectionAction[], always: boolean): void {
    if (this.#hasReference) return;
    const heard = this.#peers.maxFloorNs();
    const max = heard > this.#floorNs ? heard : this.#floorNs;
    if (max > 0n && (always || max > this.#raisedToNs)) {
      this.#raisedToNs = max;
      out.push({ type: 'raise-clock', minNodeNs: max });
    }
  }

  /**
   * Whatever arrives first after a hang (a queued datagram or the late
   * timer) must see it: we missed our own wake-up or our own heartbeat by
   * more than a peer's death takes.
   */
  #checkStall(out: ElectionAction[], now: bigint): void {
    const late = this.#wakeAt !== null ? now - this.#wakeAt : 0n;
    const silent = now - this.#lastBeatMonoNs; // since the peers last heard us
    const quiet = silent - this.cfg.heartbeatNs;
    const gap = late > quiet ? late : quiet;
    if (gap > this.cfg.heartbeatNs) this.#stalled(out, now, gap, silent);
  }

  #stalled(out: ElectionAction[], now: bigint, gapNs: bigint, silentNs: bigint): void {
    out.push({ type: 'event', event: { kind: 'stalled', gapNs } });
    // Our view is stale. Peers bury a node unheard for deadAfter (timed by
    // their clocks: allow them half a heartbeat): silent that long, a server
    // may have been replaced, so it steps down and asks again instead of
    // fighting. Measured from our last heartbeat, not our missed wake-up,
    // which can come a whole heartbeat later.
    if (this.#role === Role.Server && silentNs > this.deadAfterNs - this.cfg.heartbeatNs / 2n) {
      out.push({ type: 'serve', on: false });
      this.#setRole(out, Role.None, 'stalled; the cluster may have moved on');
    }
    if (this.#role !== Role.Server) {
      this.#starting = false;
      this.#discoverUntil = now + this.cfg.discoverNs;
    }
    this.#peers.stalled(now, gapNs, now + this.cfg.discoverNs);
    this.#lastBeatMonoNs = now;
  }

  #setRole(out: ElectionAction[], to: Role, why: string): void {
    if (to === this.#role) return;
    out.push({ type: 'event', event: { kind: 'role', from: this.#role, to, why } });
    this.#role = to;
    // Back to knowing no server: sweep again (it goes on only while this node is searching).
    if (to === Role.None && this.#started) {
      this.#sweep.begin(this.cfg.peers, this.#now);
      this.#searching = true;
    }
  }

  #follow(out: ElectionAction[], leader: LeaderRef | null): void {
    const same = leader && this.#leader && leader.id === this.#leader.id && leader.address === this.#leader.address && leader.ntpPort === this.#leader.ntpPort;
    if (same || (leader === null && this.#leader === null)) return;
    this.#leader = leader;
    out.push({ type: 'follow', leader }, { type: 'event', event: { kind: 'leader', leader } });
  }

  #ref(p: Peer): LeaderRef {
    return { id: p.id, address: p.address, port: p.port, ntpPort: p.ntpPort };
  }

  #nextWake(now: bigint): bigint {
    let next = this.#heartbeatAt;
    const consider = (t: bigint | null): void => {
      if (t !== null && t > now && t < next) next = t;
    };
    consider(this.#discoverUntil);
    consider(this.#peers.graceUntil);
    consider(this.#retryAt);
    consider(this.#cannotServeUntil);
    consider(this.#waiting?.deadline ?? null);
    const sweep = this.#sweep.wakeNs(now);
    consider(sweep !== null && sweep <= now ? now + 1n : sweep);
    const probe = this.#probeDue(now);
    consider(probe !== null && probe <= now ? now + 1n : probe);
    // The instant any live peer would turn dead: a server's death is acted on at once.
    consider(this.#peers.nextDeathMonoNs(now));
    return next;
  }

  // ---- sending -----------------------------------------------------------

  #stratum(): number {
    return this.#hasReference ? this.#refStratum : this.cfg.localStratum;
  }

  #message(type: MsgType, nonce: bigint): ElectionMessage {
    const r = this.rank();
    return {
      type,
      role: type === MsgType.Leaving ? Role.None : this.#role,
      flags: (r.hasReference ? FLAG_REFERENCE : 0) | (this.#cannotServe(this.#now) ? FLAG_CANNOT_SERVE : 0) | (r.synced ? FLAG_SYNCED : 0),
      stratum: r.stratum,
      priority: r.priority,
      bootId: this.#bootId,
      seq: ++this.#seq,
      nonce,
      leaderAgeMs: this.#leaderAgeMs(),
      floorNs: this.#floorNs,
      ntpPort: this.cfg.ntpPort,
      id: this.cfg.id,
      leader: this.#role === Role.Client ? this.#leader : null,
      candidates: this.#role !== Role.Client && type !== MsgType.Leaving ? this.#candidates(this.#now) : [],
    };
  }

  #leaderAgeMs(): number {
    const l = this.#role === Role.Client && this.#leader ? this.#peers.get(this.#leader.id) : undefined;
    return l ? Number((this.#now - l.lastHeardMonoNs) / 1_000_000n) : NO_AGE;
  }

  #send(out: ElectionAction[], to: Addr | 'multicast', type: MsgType, nonce: bigint): void {
    const bytes = encodeMessage(this.#message(type, nonce), this.cfg.key ?? undefined);
    this.counters[type === MsgType.Query ? 'sentQuery' : type === MsgType.Status ? 'sentStatus' : 'sentLeaving']++;
    out.push({ type: 'send', to, bytes, msgType: type });
  }

  /** "Are you the server?" with a fresh challenge (limited: see Challenges). */
  /** False when limited (or the address is our own). */
  #query(out: ElectionAction[], to: Addr | 'multicast', now: bigint, rng: Rng, again = false): boolean {
    const k = to === 'multicast' ? 'multicast' : addrKey(to);
    if (this.#selfAddrs.has(k)) return false;
    const nonce = this.#challenges.issue(k, now, rng, again, this.#peers.size + this.cfg.peers.length);
    if (nonce === null) return false;
    this.counters.challenges++;
    this.#send(out, to, MsgType.Query, nonce);
    return true;
  }

  #nudge(out: ElectionAction[], p: Peer, now: bigint): void {
    const last = this.#nudged.get(p.id);
    if (last !== undefined && now - last < this.cfg.heartbeatNs) return;
    this.#nudged.set(p.id, now);
    this.#send(out, p, MsgType.Status, 0n);
  }

  /** Where heartbeats go: every live peer we have learnt (verified) and every static address, once each. */
  #targets(now: bigint): { to: Addr; verified: boolean }[] {
    const seen = new Set<string>(this.#selfAddrs);
    const out: { to: Addr; verified: boolean }[] = [];
    const add = (a: Addr, verified: boolean): void => {
      const k = addrKey(a);
      if (!seen.has(k)) {
        seen.add(k);
        out.push({ to: { address: a.address, port: a.port }, verified });
      }
    };
    for (const p of this.#peers.livePeers(now)) add(p, true);
    for (const a of this.cfg.peers) add(a, false);
    return out;
  }

  /**
   * One beat. A client speaks to its server alone (O(1) per node); a server
   * to everyone (static addresses, live peers, the group); a node that knows
   * of no server to its two best candidates, or, when it may be the best
   * itself (searching), to everyone once its sweep is through
   * (docs/election.md, "Traffic").
   */
  #heartbeat(out: ElectionAction[], now: bigint, rng: Rng): void {
    this.#lastBeatMonoNs = now;
    if (this.#role === Role.Client && this.#leader) {
      const L = this.#peers.get(this.#leader.id);
      const to = L ?? { address: this.#leader.address, port: this.#leader.port };
      // A server beat missed: ask instead of telling, so its answer comes back at once. Other
      // clients no longer vouch for the server (they speak to it alone), so a lossy path is
      // bridged by asking.
      if (L && (now - L.lastHeardMonoNs) * 2n > this.cfg.heartbeatNs * 3n) this.#probe(out, now, rng);
      else this.#send(out, to, MsgType.Status, 0n);
      return;
    }
    if (this.#role === Role.None) {
      const { server, cands, searching } = this.#survey(now);
      if (searching) {
        // The sweep, while it runs, is this node's word to the cluster.
        if (this.#sweep.done(now)) this.#sendAll(out, now, rng);
        return;
      }
      // Otherwise a word to the node we wait for (a server we are about to follow, or the best
      // candidate), so it knows us, and we learn at once if it can no longer serve.
      const ahead = server ?? best(cands);
      const p = ahead ? this.#peers.get(ahead.id) : undefined;
      if (p && this.#peers.live(p, now)) this.#send(out, p, MsgType.Status, 0n);
      else if (ahead) this.#query(out, ahead, now, rng);
      return;
    }
    this.#sendAll(out, now, rng);
  }

  /** One step of the sweep, if this node is still searching; else it looks again a step later. */
  #sweepStep(out: ElectionAction[], now: bigint, rng: Rng): void {
    if (this.#role !== Role.None) return this.#sweep.stop(now);
    if (!this.#survey(now).searching) return this.#sweep.postpone(now);
    for (const a of this.#sweep.take(now, rng)) this.#query(out, a, now, rng);
  }

  /**
   * A client whose server missed a beat (1.5 heartbeats of silence) asks it every quarter heartbeat until
   * it answers or is dead: the answer comes back at once, so a lossy path does
   * not bury a live server (no other client vouches for it to us).
   */
  #probeDue(now: bigint): bigint | null {
    if (this.#role !== Role.Client || !this.#leader) return null;
    const L = this.#peers.get(this.#leader.id);
    if (!L || !this.#peers.live(L, now)) return null;
    const due = this.#probedAt + this.cfg.heartbeatNs / 4n;
    // A beat is missed once 1.5 heartbeats have gone by without a word (the next one is due after one).
    const first = L.lastHeardMonoNs + (this.cfg.heartbeatNs * 3n) / 2n;
    return due > first ? due : first;
  }

  #probe(out: ElectionAction[], now: bigint, rng: Rng): void {
    const L = this.#leader ? this.#peers.get(this.#leader.id) : undefined;
    if (!L) return;
    this.#probedAt = now;
    this.#query(out, L, now, rng, true);
  }

  /** A Status to every target (a query to each static address nobody has answered from yet), and to the group. */
  #sendAll(out: ElectionAction[], now: bigint, rng: Rng): void {
    for (const { to, verified } of this.#targets(now)) {
      // A static address nobody verified answers from yet gets a query: that is how late boots are found.
      // One we asked within the beat (its answer is on its way) still hears our news: unverified, a
      // server's word makes it ask us at once.
      if (verified || !this.#query(out, to, now, rng)) this.#send(out, to, MsgType.Status, 0n);
    }
    if (this.cfg.multicast) this.#send(out, 'multicast', MsgType.Status, 0n);
  }
}
