// One clocktower node, as a pure core: the election, the NTP client that
// follows the elected server (or the upstreams), the time floor and the state
// a server advertises. The daemon drives it over sockets, the simulator over
// simulated links; both pass monotonic time and the node's own (cooked) clock
// reading with every input, and carry out the actions it returns.
import type { ClockCommand } from '../clock/driver.js';
import { Election, type Addr, type ElectionConfig, type ElectionEvent } from '../election/election.js';
import { Role, type LeaderRef, type MsgType } from '../election/wire.js';
import { ipv4RefId, Leap } from '../ntp/packet.js';
import { UNSYNCHRONISED, type ServerState } from '../ntp/wire.js';
import { SyncClient, type SyncAction, type SyncClientOptions } from '../sync/client.js';
import type { NtsSessionResult } from '../sync/nts-source.js';
import type { SourceConfig } from '../sync/source.js';
import type { Rng } from '../util/rng.js';
import net from 'node:net';

export interface Now {
  monoNs: bigint;
  /** The node's clock (cooked: corrections already asked for count as done). */
  nodeNs: bigint;
}

export interface ClusterNodeConfig {
  election: ElectionConfig;
  sync?: SyncClientOptions;
  /** Poll range for the elected server, log2 s (default 0..4: a LAN can afford it and clients settle fast). */
  leaderMinPollLog2?: number;
  leaderMaxPollLog2?: number;
  /** Ask the elected server in interleaved form (RFC 9769); default true: clocktower servers keep their TX stamps. */
  leaderInterleaved?: boolean;
  /** Reach the elected server with NTS: its NTS-KE on this port, its certificate naming serverName (null: its address). */
  leaderNts?: { port: number; serverName: string | null } | null;
  /** Servers beyond the cluster; synchronising to one makes this node outrank the others. */
  upstream?: SourceConfig[];
  /** The operator vouches for this node's clock: it is a reference at its local stratum. */
  trusted?: boolean;
  /** Floor and drift are saved this often while synchronised (default 60 s). */
  persistIntervalNs?: bigint;
  /** Allow steps backwards past the saved floor (the operator's override). */
  allowBackwards?: boolean;
  /** Listen to NTP broadcast servers (mode 5); requireAuth: only signed broadcasts count. */
  broadcastClient?: { requireAuth: boolean } | null;
}

/** chrony's refid for its local reference (127.127.1.1), so tools show a local server as such. */
export const LOCAL_REFID = 0x7f7f0101;
export const LEADER_SOURCE = 'leader';
/** A node's first correction steps above 1 ms: a board fresh from boot has no time worth slewing from. */
export const FIRST_STEP_NS = 1e6;
/** A server raises its clock to a floor only when it is behind by more than this. */
export const FLOOR_SLACK_NS = 1_000_000_000n;

export type NodeEvent =
  | ElectionEvent
  | { kind: 'correction'; decision: 'step' | 'slew'; offsetNs: bigint; why: string }
  | { kind: 'floor-refused'; offsetNs: bigint; floorNs: bigint }
  | { kind: 'synced'; synced: boolean; sourceId: string | null }
  /** A sample that passed the checks (before the clock filter): offset = source − cooked local time. */
  | { kind: 'sample'; sourceId: string; offsetNs: bigint; delayNs: number }
  /** NTS-KE for a source: a session (cookies) or why not. */
  | { kind: 'nts'; sourceId: string; what: 'session' | 'ke-failed'; detail: string };

/** What a shell hands the node (see ClusterNode.handle). Times: t1Ns/t4Ns node time, rxMonoNs monotonic. */
export type NodeInput =
  | { type: 'timer' }
  /** An election datagram; rxMonoNs is when it arrived, however late it is read (see Election.onMessage). */
  | { type: 'cluster'; bytes: Uint8Array; from: Addr; rxMonoNs?: bigint }
  /** The answer to a 'send-ntp' action: the request to sourceId left at t1Ns. */
  | { type: 'ntp-sent'; sourceId: string; t1Ns: bigint }
  /** The answer to a 'serve' on action: whether every NTP listener is bound. */
  | { type: 'serve-result'; ok: boolean }
  /** An NTP datagram on the client socket, received at t4Ns. Unknown senders are ignored and counted. */
  | { type: 'ntp-reply'; bytes: Uint8Array; from: Addr; t4Ns: bigint }
  /** A broadcast (mode 5) packet heard on an NTP listener, received at t4Ns. */
  | { type: 'ntp-broadcast'; bytes: Uint8Array; from: Addr; t4Ns: bigint }
  /** The answer to an 'nts-ke' action. */
  | { type: 'nts-session'; sourceId: string; result: { session: NtsSessionResult } | { error: string } };

export type NodeAction =
  | { type: 'send-cluster'; to: Addr | 'multicast'; bytes: Uint8Array; msgType: MsgType }
  /** Answered by an 'ntp-sent' input. */
  | { type: 'send-ntp'; sourceId: string; address: string; port: number; bytes: Uint8Array }
  /** NTS-KE with address:port for sourceId; answered by an 'nts-session' input. */
  | { type: 'nts-ke'; sourceId: string; address: string; port: number; serverName: string | null }
  | { type: 'clock'; cmd: ClockCommand }
  /** on: bind the NTP listeners, answered by a 'serve-result' input on a later turn. */
  | { type: 'serve'; on: boolean }
  | { type: 'server-state'; state: ServerState }
  | { type: 'timer'; atMonoNs: bigint }
  | { type: 'persist'; floorNs: bigint; freqPpm: number }
  | { type: 'event'; event: NodeEvent };

const refIdOf = (address: string): number => (net.isIPv4(address) ? ipv4RefId(address) : 0);

export class ClusterNode {
  readonly election: Election;
  readonly sync: SyncClient;
  readonly #cfg: ClusterNodeConfig;
  #floorNs: bigint;
  #electionWake: bigint | null = null;
  #syncWake: bigint | null = null;
  #persistAt: bigint | null = null;
  #synced = false;
  #hasTime = false;
  #served: ServerState | null = null;
  #localRefNs: bigint | null = null;
  /** Set on a leader change: the next correction is logged with its size (server merges). */
  #newLeader: string | null = null;

  constructor(cfg: ClusterNodeConfig) {
    this.#cfg = cfg;
    this.election = new Election(cfg.election);
    this.sync = new SyncClient({ refIdOf, firstStepThresholdNs: FIRST_STEP_NS, ...cfg.sync });
    this.#floorNs = cfg.election.floorNs ?? 0n;
  }

  get floorNs(): bigint {
    return this.#floorNs;
  }
  get role(): Role {
    return this.election.role;
  }
  get synced(): boolean {
    return this.#synced;
  }

  start(now: Now, rng: Rng): NodeAction[] {
    const out: NodeAction[] = [];
    for (const u of this.#cfg.upstream ?? []) this.#sync(out, this.sync.addSource(u, now.monoNs), now, rng);
    if (this.#cfg.trusted) {
      this.#hasTime = true;
      this.#election(out, this.election.update({ hasReference: true, refStratum: this.election.cfg.localStratum, synced: true }, now.monoNs, rng), now, rng);
    }
    this.#election(out, this.election.start(now.monoNs, rng), now, rng);
    this.#persistAt = now.monoNs + (this.#cfg.persistIntervalNs ?? 60_000_000_000n);
    return this.#finish(out, now);
  }

  /** SIGTERM: tell the peers, save the floor. */
  stop(now: Now): NodeAction[] {
    const out: NodeAction[] = [];
    this.#persist(out, now);
    for (const a of this.election.stop(now.monoNs)) if (a.type === 'send') out.push({ type: 'send-cluster', to: a.to, bytes: a.bytes, msgType: a.msgType });
    return out;
  }

  /**
   * Every input after start, one entry point for every shell (daemon, simulator). The two answers
   * a shell owes the node are inputs like any other: 'ntp-sent' for each 'send-ntp' action (the
   * departure time, a kernel TX stamp when there is one; until it comes the node assumes now) and
   * 'serve-result' for each 'serve' on action, on a later turn (the node is never re-entered from its
   * own action list).
   */
  handle(input: NodeInput, now: Now, rng: Rng): NodeAction[] {
    const out: NodeAction[] = [];
    switch (input.type) {
      case 'timer':
        if (this.#electionWake !== null && now.monoNs >= this.#electionWake) this.#election(out, this.election.onTimer(now.monoNs, rng), now, rng);
        if (this.#syncWake !== null && now.monoNs >= this.#syncWake) this.#sync(out, this.sync.onTimer(now.monoNs, rng), now, rng);
        if (this.#persistAt !== null && now.monoNs >= this.#persistAt) {
          this.#persist(out, now);
          this.#election(out, this.election.update({ floorNs: this.#floorNs }, now.monoNs, rng), now, rng);
          this.#persistAt = now.monoNs + (this.#cfg.persistIntervalNs ?? 60_000_000_000n);
        }
        break;
      case 'cluster':
        this.#election(out, this.election.onMessage(input.bytes, input.from, now.monoNs, rng, input.rxMonoNs ?? now.monoNs), now, rng);
        break;
      case 'serve-result':
        this.#election(out, this.election.onServeResult(input.ok, now.monoNs, rng), now, rng);
        break;
      case 'ntp-sent':
        this.sync.onSent(input.sourceId, input.t1Ns);
        return out;
      case 'ntp-reply': {
        const s = this.sync.sources().find((x) => x.target.address === input.from.address && x.target.port === input.from.port);
        if (!s) {
          // From no address we asked: an off-path spoofer or a late reply from a dropped source.
          this.strayReplies++;
          return out;
        }
        this.#sync(out, this.sync.onResponse(s.cfg.id, input.bytes, input.t4Ns, now.monoNs), now, rng);
        break;
      }
      case 'nts-session':
        this.#sync(out, this.sync.onNtsSession(input.sourceId, input.result, now.monoNs), now, rng);
        break;
      case 'ntp-broadcast': {
        // A broadcast server is a source beyond the cluster, like an upstream;
        // the cluster's own leader is already polled directly, so its broadcasts are ignored.
        const bc = this.#cfg.broadcastClient;
        if (!bc || this.sync.source(LEADER_SOURCE)?.cfg.address === input.from.address) return out;
        this.#sync(out, this.sync.onBroadcast(input.bytes, input.from, input.t4Ns, now.monoNs, { requireAuth: bc.requireAuth }), now, rng);
        break;
      }
    }
    return this.#finish(out, now);
  }

  /** NTP replies from an address and port that is none of our sources. */
  strayReplies = 0;

  // ---- carrying out the cores' actions ------------------------------------

  #election(out: NodeAction[], actions: ReturnType<Election['onTimer']>, now: Now, rng: Rng): void {
    for (const a of actions) {
      switch (a.type) {
        case 'send':
          out.push({ type: 'send-cluster', to: a.to, bytes: a.bytes, msgType: a.msgType });
          break;
        case 'serve':
          out.push(a);
          if (a.on) this.#localRefNs = null;
          break;
        case 'follow':
          this.#follow(out, a.leader, now, rng);
          break;
        case 'raise-clock':
          // Floors guard against factory dates, they are no time source: a
          // floor a synced peer saved a moment ago sits within milliseconds
          // of our time, and chasing it would make the server jitter.
          if (a.minNodeNs - now.nodeNs > FLOOR_SLACK_NS) {
            const offsetNs = a.minNodeNs - now.nodeNs;
            out.push(
              { type: 'clock', cmd: { type: 'step', offsetNs } },
              { type: 'event', event: { kind: 'correction', decision: 'step', offsetNs, why: 'serving: raised to the cluster floor' } },
            );
            now = { ...now, nodeNs: a.minNodeNs };
            this.#localRefNs = a.minNodeNs;
          }
          break;
        case 'timer':
          this.#electionWake = a.atMonoNs;
          break;
        case 'event':
          out.push(a);
          break;
      }
    }
  }

  #follow(out: NodeAction[], leader: LeaderRef | null, now: Now, rng: Rng): void {
    if (this.sync.source(LEADER_SOURCE)) this.#sync(out, this.sync.removeSource(LEADER_SOURCE), now, rng);
    if (!leader) return;
    // A new reference: offsets to it are not on one line with the old one's.
    this.sync.discipline.forgetSamples();
    this.#newLeader = leader.id;
    const src: SourceConfig = {
      id: LEADER_SOURCE,
      address: leader.address,
      port: leader.ntpPort,
      minPollLog2: this.#cfg.leaderMinPollLog2 ?? 0,
      maxPollLog2: this.#cfg.leaderMaxPollLog2 ?? 4,
      iburst: true,
      keyId: null,
      interleaved: this.#cfg.leaderInterleaved ?? true,
      nts: this.#cfg.leaderNts ?? null,
    };
    this.#sync(out, this.sync.addSource(src, now.monoNs), now, rng);
  }

  #sync(out: NodeAction[], actions: SyncAction[], now: Now, rng: Rng): void {
    for (const a of actions) {
      switch (a.type) {
        case 'send':
          out.push({ type: 'send-ntp', sourceId: a.sourceId, address: a.address, port: a.port, bytes: a.bytes });
          break;
        case 'nts-ke':
          out.push(a);
          break;
        case 'timer':
          break; // taken from nextWakeMonoNs() below: a removed source leaves no stale wake-up
        case 'clock':
          this.#clock(out, a.cmd, now);
          break;
        case 'event':
          if (a.event.kind === 'system-peer') this.#syncChanged(out, now, rng);
          else if (a.event.kind === 'sample' || a.event.kind === 'nts') out.push({ type: 'event', event: a.event });
          break;
      }
    }
    this.#syncWake = this.sync.nextWakeMonoNs();
    if (this.sync.systemPeer !== null && !this.#synced) this.#syncChanged(out, now, rng);
  }

  /** The floor guard and the merge log sit between the discipline and the clock. */
  #clock(out: NodeAction[], cmd: ClockCommand, now: Now): void {
    if (cmd.type === 'step' && cmd.offsetNs < 0n && now.nodeNs + cmd.offsetNs < this.#floorNs && !this.#cfg.allowBackwards) {
      out.push({ type: 'event', event: { kind: 'floor-refused', offsetNs: cmd.offsetNs, floorNs: this.#floorNs } });
      return;
    }
    if (cmd.type === 'step' || (cmd.type === 'slew' && this.#newLeader !== null)) {
      const offsetNs = cmd.type === 'step' ? cmd.offsetNs : BigInt(Math.round(cmd.offsetNs));
      const why = this.#newLeader !== null ? `first correction to ${this.#newLeader}` : 'offset above the step threshold';
      out.push({ type: 'event', event: { kind: 'correction', decision: cmd.type, offsetNs, why } });
      this.#newLeader = null;
    }
    out.push({ type: 'clock', cmd });
  }

  #syncChanged(out: NodeAction[], now: Now, rng: Rng): void {
    const peer = this.sync.systemPeer;
    const synced = peer !== null;
    const upstream = synced && peer !== LEADER_SOURCE;
    const st = this.sync.serverState();
    if (synced !== this.#synced) out.push({ type: 'event', event: { kind: 'synced', synced, sourceId: peer } });
    this.#synced = synced;
    // Once synchronised, the clock carries the cluster's time through a leader's loss (holdover).
    this.#hasTime ||= synced;
    const ref = this.#cfg.trusted
      ? { hasReference: true, refStratum: this.election.cfg.localStratum }
      : { hasReference: upstream, refStratum: upstream && st ? st.stratum : 0 };
    this.#election(out, this.election.update({ ...ref, synced: this.#hasTime }, now.monoNs, rng), now, rng);
  }

  #persist(out: NodeAction[], now: Now): void {
    // Once its clock has carried the cluster's time this boot (holding over after): a node stopped
    // just after losing its server still has good time to save, a board at its factory date has not.
    if (!(this.#hasTime || this.election.role === Role.Server || this.#cfg.trusted)) return;
    if (now.nodeNs > this.#floorNs) this.#floorNs = now.nodeNs;
    out.push({ type: 'persist', floorNs: this.#floorNs, freqPpm: this.sync.discipline.freqPpm });
  }

  /** What the NTP server says in this role (docs/election.md, "Seen from NTP"). */
  serverState(now: Now): ServerState {
    const role = this.election.role;
    const st = this.sync.serverState();
    if (role === Role.Server) {
      if (st && this.sync.systemPeer !== LEADER_SOURCE) return st;
      this.#localRefNs ??= now.nodeNs;
      return {
        leap: Leap.None,
        stratum: this.election.cfg.localStratum,
        precisionLog2: this.#cfg.sync?.localPrecisionLog2 ?? -20,
        refId: LOCAL_REFID,
        referenceNs: this.#localRefNs,
        rootDelayNs: 0,
        rootDispersionNs: 0,
      };
    }
    if (role === Role.Client && st) return st;
    return UNSYNCHRONISED;
  }

  #finish(out: NodeAction[], now: Now): NodeAction[] {
    const st = this.serverState(now);
    if (!this.#served || !sameState(st, this.#served)) {
      this.#served = st;
      out.push({ type: 'server-state', state: st });
    }
    let next = this.#electionWake;
    for (const t of [this.#syncWake, this.#persistAt]) if (t !== null && (next === null || t < next)) next = t;
    if (next !== null) out.push({ type: 'timer', atMonoNs: next });
    return out;
  }
}

function sameState(a: ServerState, b: ServerState): boolean {
  return (
    a.leap === b.leap &&
    a.stratum === b.stratum &&
    a.refId === b.refId &&
    a.referenceNs === b.referenceNs &&
    a.rootDelayNs === b.rootDelayNs &&
    a.rootDispersionNs === b.rootDispersionNs
  );
}
