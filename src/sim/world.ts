// The simulator (clknetsim's shape): simulated boards with drifting
// oscillators and virtual clocks, links with delay, jitter, loss and
// partitions, crashes, hangs and serve failures, on a virtual scheduler. It
// runs the real ClusterNode (election + NTP client + discipline) and answers
// NTP with the same reference response the native server is tested against.
// Deterministic: one seed replays a run exactly.
import { VirtualClock } from '../clock/virtual.js';
import { ClusterNode, type Now, type NodeAction } from '../cluster/node.js';
import type { Addr } from '../election/election.js';
import type { Rank } from '../election/precedence.js';
import type { ClusterKey } from '../election/wire.js';
import { Role } from '../election/wire.js';
import { decodePacket, encodePacket } from '../ntp/packet.js';
import { buildResponse, UNSYNCHRONISED, type ServerState } from '../ntp/wire.js';
import { seededRng, type Rng } from '../util/rng.js';
import { Oscillator } from './oscillator.js';
import { EventQueue, type Timed } from './queue.js';

/** True time at simulation start: 2026-11-21T00:00:00Z. */
export const TRUE_START_NS = 1_795_219_200_000_000_000n;
export const CLUSTER_PORT = 12300;
export const NTP_PORT = 123;
const MS = 1e6;
/** Server turnaround between RX and TX stamps. */
const TURNAROUND_NS = 20_000;

export interface LinkProfile {
  delayNs: number;
  /** Mean of the exponential extra delay. */
  jitterNs: number;
  lossRate: number;
  /** Extra one-way delay from a lower-numbered node to a higher one. */
  asymmetryNs?: number;
}

export interface SimNodeSpec {
  id: string;
  priority: number;
  bootAtNs?: number;
  /** The virtual clock at boot (a factory date); null: the board's system clock. */
  factoryNs?: bigint | null;
  /** Error of the board's system clock against true time. */
  sysOffsetNs?: bigint;
  freqPpm?: number;
  /** The first k attempts to start serving fail (the seed's "failed to start ntpd"). */
  serveFailures?: number;
  /** Its clock is true time and the operator vouches for it. */
  trusted?: boolean;
}

export type SimAction =
  | { kind: 'crash'; node: string }
  | { kind: 'restart'; node: string; factoryNs?: bigint | null }
  | { kind: 'hang'; node: string; durationNs: number }
  | { kind: 'partition'; groups: string[][] }
  | { kind: 'heal' }
  | { kind: 'link'; profile: LinkProfile };

export interface SimConfig {
  seed: number;
  nodes: SimNodeSpec[];
  link: LinkProfile;
  durationNs: number;
  script?: { atNs: number; action: SimAction }[];
  heartbeatNs?: bigint;
  persistIntervalNs?: bigint;
  preempt?: boolean;
  key?: ClusterKey;
  sampleNs?: number;
}

export interface NodeSnapshot {
  id: string;
  up: boolean;
  role: Role;
  leaderId: string | null;
  nodeNs: bigint;
  floorNs: bigint;
  group: number;
  rank: Rank;
}

export interface WorldHooks {
  sample?(tNs: number, nodes: NodeSnapshot[]): void;
  event?(tNs: number, node: string, action: NodeAction & { type: 'event' }): void;
  script?(tNs: number, action: SimAction, world: World): void;
  /** A node (re)boots now; `nodes` is the cluster just before. */
  boot?(tNs: number, node: string, nodes: NodeSnapshot[]): void;
}

type Ev = Timed &
  (
    | { kind: 'boot'; node: number; factoryNs: bigint | null }
    | { kind: 'timer'; node: number; gen: number; boot: number }
    | { kind: 'serve-result'; node: number; ok: boolean; boot: number }
    | { kind: 'cluster' | 'ntp-req' | 'ntp-resp'; node: number; from: Addr; bytes: Uint8Array; rxNodeNs?: bigint }
    | { kind: 'resume'; node: number }
    | { kind: 'script'; action: SimAction }
    | { kind: 'sample' }
  );

class SimNode {
  readonly addr: Addr;
  osc!: Oscillator;
  clock!: VirtualClock;
  core: ClusterNode | null = null;
  bootT = 0;
  boots = 0;
  rng!: Rng;
  hungUntil: number | null = null;
  deferred: Ev[] = [];
  timerGen = 0;
  serveFailuresLeft: number;
  state: ServerState = UNSYNCHRONISED;
  persisted: { floorNs: bigint; freqPpm: number } = { floorNs: 0n, freqPpm: 0 };

  constructor(
    readonly spec: SimNodeSpec,
    readonly index: number,
  ) {
    // 10.0.0.1 .. 10.0.0.250, 10.0.1.1 ..: never a .0 or .255 host part.
    this.addr = { address: `10.0.${Math.floor(index / 250)}.${(index % 250) + 1}`, port: CLUSTER_PORT };
    this.serveFailuresLeft = spec.serveFailures ?? 0;
  }

  get up(): boolean {
    return this.core !== null && this.hungUntil === null;
  }
}

export class World {
  readonly nodes: SimNode[];
  readonly counters = { clusterSent: 0, ntpSent: 0, dropped: 0 };
  /** Election messages sent: per node over the last `steadyNs` of the run, and by everyone per simulated second. */
  readonly sent = { steadyFromNs: 0, byNodeSteady: [] as number[], perSecond: [] as number[] };
  readonly #cfg: SimConfig;
  readonly #q = new EventQueue<Ev>();
  readonly #net: Rng;
  readonly #byAddress = new Map<string, SimNode>();
  readonly #hooks: WorldHooks;
  #link: LinkProfile;
  #groups = new Map<string, number>();
  #t = 0;

  constructor(cfg: SimConfig, hooks: WorldHooks = {}) {
    this.#cfg = cfg;
    this.#hooks = hooks;
    this.#link = cfg.link;
    this.#net = seededRng(cfg.seed ^ 0x6e6e6e6e);
    this.nodes = cfg.nodes.map((s, i) => new SimNode(s, i));
    for (const n of this.nodes) this.#byAddress.set(n.addr.address, n);
    for (const n of this.nodes)
      this.#q.push({ t: n.spec.bootAtNs ?? 0, kind: 'boot', node: n.index, factoryNs: n.spec.factoryNs === undefined ? null : n.spec.factoryNs });
    for (const s of cfg.script ?? []) this.#q.push({ t: s.atNs, kind: 'script', action: s.action });
    this.#q.push({ t: 0, kind: 'sample' });
  }

  get nowNs(): number {
    return this.#t;
  }

  node(id: string): SimNode {
    const n = this.nodes.find((x) => x.spec.id === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  run(): void {
    for (let e = this.#q.pop(); e && e.t <= this.#cfg.durationNs; e = this.#q.pop()) {
      this.#t = e.t;
      this.#dispatch(e);
    }
    this.#t = this.#cfg.durationNs;
  }

  snapshot(): NodeSnapshot[] {
    return this.nodes.map((n) => ({
      id: n.spec.id,
      up: n.up,
      role: n.core?.role ?? Role.None,
      leaderId: n.core?.election.leader?.id ?? null,
      nodeNs: n.core ? n.clock.nodeNs(n.osc.sysNs(this.#t)) : 0n,
      floorNs: n.persisted.floorNs,
      group: this.#group(n),
      rank: n.core ? n.core.election.rank() : { id: n.spec.id, priority: n.spec.priority, stratum: 10, hasReference: false, synced: false },
    }));
  }

  #group(n: SimNode): number {
    return this.#groups.get(n.spec.id) ?? -1;
  }

  #dispatch(e: Ev): void {
    switch (e.kind) {
      case 'sample':
        this.#hooks.sample?.(this.#t, this.snapshot());
        this.#q.push({ t: this.#t + (this.#cfg.sampleNs ?? 100 * MS), kind: 'sample' });
        return;
      case 'script':
        this.#script(e.action);
        return;
      case 'boot':
        this.#boot(this.nodes[e.node]!, e.factoryNs);
        return;
      case 'resume': {
        const n = this.nodes[e.node]!;
        n.hungUntil = null;
        const queued = n.deferred;
        n.deferred = [];
        for (const d of queued) this.#dispatch(d);
        return;
      }
    }
    const n = this.nodes[e.node]!;
    if (!n.core) return;
    if (n.hungUntil !== null) {
      // The kernel stamps a datagram when it arrives, however late it is read.
      if (e.kind === 'ntp-req') e.rxNodeNs = n.clock.nodeNs(n.osc.sysNs(this.#t));
      if (e.kind === 'ntp-resp') e.rxNodeNs = n.clock.cookedNs(n.osc.sysNs(this.#t));
      n.deferred.push(e);
      return;
    }
    const now = this.#now(n);
    // e.t is when it arrived; a node resuming from a hang reads it only now.
    const rxMonoNs = BigInt(Math.round(Math.max(e.t, n.bootT) - n.bootT));
    switch (e.kind) {
      case 'timer':
        if (e.gen === n.timerGen && e.boot === n.boots) this.#exec(n, n.core.handle({ type: 'timer' }, now, n.rng));
        break;
      case 'serve-result':
        if (e.boot === n.boots) this.#exec(n, n.core.handle({ type: 'serve-result', ok: e.ok }, now, n.rng));
        break;
      case 'cluster':
        this.#exec(n, n.core.handle({ type: 'cluster', bytes: e.bytes, from: e.from, rxMonoNs }, now, n.rng));
        break;
      case 'ntp-req':
        this.#answer(n, e.bytes, e.from, e.rxNodeNs);
        break;
      case 'ntp-resp':
        this.#exec(n, n.core.handle({ type: 'ntp-reply', bytes: e.bytes, from: e.from, t4Ns: e.rxNodeNs ?? now.nodeNs }, now, n.rng));
        break;
    }
  }

  /** The node's clocks at the current simulated instant. */
  #now(n: SimNode): Now {
    return { monoNs: BigInt(Math.round(this.#t - n.bootT)), nodeNs: n.clock.cookedNs(n.osc.sysNs(this.#t)) };
  }

  #boot(n: SimNode, factoryNs: bigint | null): void {
    this.#hooks.boot?.(this.#t, n.spec.id, this.snapshot());
    n.boots++;
    n.bootT = this.#t;
    n.hungUntil = null;
    n.deferred = [];
    n.state = UNSYNCHRONISED;
    n.rng = seededRng((this.#cfg.seed * 7919 + n.index * 104729 + n.boots * 15485863) >>> 0);
    const trueNs = TRUE_START_NS + BigInt(Math.round(this.#t));
    const sysOffset = n.spec.trusted ? 0n : (n.spec.sysOffsetNs ?? BigInt(Math.round((n.rng.float() - 0.5) * 2 * MS)));
    n.osc = new Oscillator({ sysAtNs: trueNs + sysOffset, tNs: this.#t, freqPpm: n.spec.freqPpm ?? (n.spec.trusted ? 0 : (n.rng.float() - 0.5) * 200) }, n.rng);
    const sys = n.osc.sysNs(this.#t);
    n.clock = new VirtualClock({ atSysNs: sys, startNs: factoryNs ?? sys, freqPpm: n.persisted.freqPpm });
    n.core = new ClusterNode({
      election: {
        id: n.spec.id,
        priority: n.spec.priority,
        peers: this.nodes.map((x) => x.addr),
        ntpPort: NTP_PORT,
        ...(this.#cfg.heartbeatNs ? { heartbeatNs: this.#cfg.heartbeatNs } : {}),
        preempt: this.#cfg.preempt ?? false,
        floorNs: n.persisted.floorNs,
        ...(this.#cfg.key ? { key: this.#cfg.key } : {}),
      },
      sync: { localPrecisionLog2: -20, initialFreqPpm: n.persisted.freqPpm },
      trusted: n.spec.trusted ?? false,
      persistIntervalNs: this.#cfg.persistIntervalNs ?? 10_000_000_000n,
    });
    this.#exec(n, n.core.start(this.#now(n), n.rng));
  }

  #script(a: SimAction): void {
    this.#hooks.script?.(this.#t, a, this);
    switch (a.kind) {
      case 'crash': {
        const n = this.node(a.node);
        n.core = null;
        n.timerGen++;
        break;
      }
      case 'restart':
        this.#boot(this.node(a.node), a.factoryNs ?? null);
        break;
      case 'hang': {
        const n = this.node(a.node);
        if (!n.core || n.hungUntil !== null) break;
        n.hungUntil = this.#t + a.durationNs;
        this.#q.push({ t: n.hungUntil, kind: 'resume', node: n.index });
        break;
      }
      case 'partition':
        this.#groups = new Map(a.groups.flatMap((g, i) => g.map((id) => [id, i] as const)));
        break;
      case 'heal':
        this.#groups = new Map();
        break;
      case 'link':
        this.#link = a.profile;
        break;
    }
  }

  #exec(n: SimNode, actions: NodeAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case 'send-cluster': {
          this.counters.clusterSent++;
          const sec = Math.floor(this.#t / 1e9);
          this.sent.perSecond[sec] = (this.sent.perSecond[sec] ?? 0) + 1;
          if (this.#t >= this.sent.steadyFromNs) this.sent.byNodeSteady[n.index] = (this.sent.byNodeSteady[n.index] ?? 0) + 1;
          const to = a.to === 'multicast' ? this.nodes.filter((x) => x !== n).map((x) => x.addr) : [a.to];
          for (const dst of to) this.#deliver(n, dst.address, 'cluster', a.bytes);
          break;
        }
        case 'send-ntp':
          this.counters.ntpSent++;
          n.core!.handle({ type: 'ntp-sent', sourceId: a.sourceId, t1Ns: n.clock.cookedNs(n.osc.sysNs(this.#t)) }, this.#now(n), n.rng);
          this.#deliver(n, a.address, 'ntp-req', a.bytes);
          break;
        case 'clock':
          n.clock.apply(a.cmd, n.osc.sysNs(this.#t));
          break;
        case 'serve':
          if (a.on) {
            const ok = n.serveFailuresLeft === 0;
            if (!ok) n.serveFailuresLeft--;
            // Starting a service takes a moment.
            this.#q.push({ t: this.#t + 10 * MS, kind: 'serve-result', node: n.index, ok, boot: n.boots });
          }
          break;
        case 'server-state':
          n.state = a.state;
          break;
        case 'timer':
          n.timerGen++;
          this.#q.push({ t: Math.max(this.#t, n.bootT + Number(a.atMonoNs)), kind: 'timer', node: n.index, gen: n.timerGen, boot: n.boots });
          break;
        case 'persist':
          n.persisted = { floorNs: a.floorNs, freqPpm: a.freqPpm };
          break;
        case 'event':
          this.#hooks.event?.(this.#t, n.spec.id, a);
          break;
      }
    }
  }

  /** One datagram over the link model: partition, loss, delay + exponential jitter. */
  #deliver(from: SimNode, toAddress: string, kind: 'cluster' | 'ntp-req' | 'ntp-resp', bytes: Uint8Array, extraNs = 0): void {
    const to = this.#byAddress.get(toAddress);
    if (!to || to === from || this.#group(from) !== this.#group(to) || this.#net.float() < this.#link.lossRate) {
      this.counters.dropped++;
      return;
    }
    const asym = from.index < to.index ? (this.#link.asymmetryNs ?? 0) : 0;
    const delay = this.#link.delayNs + asym - this.#link.jitterNs * Math.log(1 - this.#net.float());
    const port = kind === 'cluster' ? CLUSTER_PORT : NTP_PORT;
    this.#q.push({ t: this.#t + extraNs + delay, kind, node: to.index, from: { address: from.addr.address, port }, bytes });
  }

  /** The server side of NTP, as the native responder does it: stamps through the node's clock, state as last set. */
  #answer(n: SimNode, bytes: Uint8Array, from: Addr, rxNodeNs?: bigint): void {
    const req = decodePacket(bytes);
    if (!req.ok) return;
    const rx = rxNodeNs ?? n.clock.nodeNs(n.osc.sysNs(this.#t));
    const tx = n.clock.nodeNs(n.osc.sysNs(this.#t + TURNAROUND_NS));
    const resp = buildResponse(req.packet, rx, tx, n.state);
    if (resp) this.#deliver(n, from.address, 'ntp-resp', encodePacket(resp), TURNAROUND_NS);
  }
}
