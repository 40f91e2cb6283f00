// Watches a simulation run: when it settles on one server per partition,
// when every clock is within 1 ms of its server, and the invariants of
// docs/election.md ("What the simulator checks"), each broken one a
// violation string.
import type { NodeAction } from '../cluster/node.js';
import { comparePrecedence } from '../election/precedence.js';
import { Role } from '../election/wire.js';
import type { NodeSnapshot, SimAction, WorldHooks } from './world.js';

export const SYNC_BOUND_NS = 1_000_000n;
/**
 * Role changes a node may make after the last disruption before it counts as
 * flapping (following a lost leader, waiting, following the next: a few are
 * honest work when disruptions come in a burst); and none once settled.
 */
const MAX_ROLE_CHANGES = 5;
/** The election's default discovery period (one heartbeat). */
const DISCOVERY_NS = 1e9;

export interface Bounds {
  /** Settled on one server within this long of measureFromNs. */
  oneServerMs?: number;
  /** All within 1 ms of the server within this long of measureFromNs. */
  syncedMs?: number;
  /** After each scripted disruption, settled again within this long (before the next one). */
  recoveryMs?: number;
  /** The id that must end up serving. */
  server?: string;
}

export interface RunMetrics {
  timeToOneServerMs: number | null;
  timeToSyncedMs: number | null;
  maxOffsetNs: number | null;
  violations: string[];
  servers: string[];
}

export class Observer implements WorldHooks {
  readonly violations: string[] = [];
  #settledSince: number | null = null;
  #syncedSince: number | null = null;
  #maxOffsetNs = 0n;
  #lastDisruptionNs = 0;
  readonly #roleChanges = new Map<string, number>();
  readonly #lastNodeNs = new Map<string, bigint>();
  /** When each node last (re)booted or resumed from a hang. */
  readonly #joinedAt = new Map<string, number>();
  /** When each server took office, and the cluster as it was then (the latest sample). */
  readonly #office = new Map<string, { t: number; nodes: NodeSnapshot[] }>();
  #floorAtLoss: bigint | null = null;
  /** The disruption not yet recovered from, and the slowest recovery. */
  #recoverFrom: number | null = null;
  #slowestRecoveryMs = 0;
  #last: NodeSnapshot[] = [];
  readonly #seen = new Set<string>();

  constructor(
    readonly measureFromNs: number,
    readonly bounds: Bounds,
    readonly capable: (id: string) => boolean,
    readonly preempt: boolean,
  ) {}

  #violate(v: string): void {
    if (!this.#seen.has(v)) {
      this.#seen.add(v);
      this.violations.push(v);
    }
  }

  script(tNs: number, a: SimAction): void {
    this.#lastDisruptionNs = tNs;
    this.#roleChanges.clear();
    this.#recoverFrom ??= tNs;
    if (a.kind === 'hang') this.#joinedAt.set(a.node, tNs + a.durationNs);
  }

  boot(tNs: number, id: string, nodes: NodeSnapshot[]): void {
    this.#joinedAt.set(id, tNs);
    this.#lastNodeNs.delete(id);
    const floor = nodes.reduce((m, s) => (s.floorNs > m ? s.floorNs : m), 0n);
    if (tNs > 0 && nodes.every((s) => !s.up) && floor > 0n && this.#floorAtLoss === null) {
      // Every node was down: a power loss. The cluster must come back at or after the largest saved floor.
      this.#floorAtLoss = floor;
    }
  }

  event(tNs: number, node: string, a: NodeAction & { type: 'event' }): void {
    if (a.event.kind !== 'role') return;
    if (a.event.to === Role.Server) this.#office.set(node, { t: tNs, nodes: this.#last });
    const n = (this.#roleChanges.get(node) ?? 0) + 1;
    this.#roleChanges.set(node, n);
    if (n > MAX_ROLE_CHANGES && tNs > this.#lastDisruptionNs) this.#violate(`${node} flapped: ${n} role changes since the last disruption`);
    const joined = this.#joinedAt.get(node) ?? 0;
    const settledFor = this.#settledSince === null ? -1 : tNs - this.#settledSince;
    if (settledFor > DISCOVERY_NS && this.#settledSince! > this.#lastDisruptionNs + DISCOVERY_NS && joined < this.#settledSince!)
      this.#violate(`${node} changed role after the cluster had settled`);
  }

  sample(tNs: number, nodes: NodeSnapshot[]): void {
    this.#last = nodes;
    for (const s of nodes) {
      if (!s.up) continue;
      const prev = this.#lastNodeNs.get(s.id);
      if (prev !== undefined && s.nodeNs < prev && s.nodeNs < s.floorNs) this.#violate(`${s.id}'s clock went backwards past its floor`);
      this.#lastNodeNs.set(s.id, s.nodeNs);
    }
    const { settled, maxOffNs } = settledState(nodes);
    if (!settled) {
      this.#settledSince = null;
      this.#syncedSince = null;
      return;
    }
    this.#settledSince ??= tNs;
    if (this.#recoverFrom !== null) {
      this.#slowestRecoveryMs = Math.max(this.#slowestRecoveryMs, (tNs - this.#recoverFrom) / 1e6);
      this.#recoverFrom = null;
    }
    if (maxOffNs <= SYNC_BOUND_NS) {
      if (this.#syncedSince === null) {
        this.#syncedSince = tNs;
        this.#maxOffsetNs = 0n;
      }
      if (maxOffNs > this.#maxOffsetNs) this.#maxOffsetNs = maxOffNs;
    } else {
      this.#syncedSince = null;
    }
  }

  /**
   * A better node need not serve (preemption off) when it was not competing
   * as the server took office: it joined later (boot, restart, end of a hang),
   * it was elsewhere (down or in another partition), it did not outrank the
   * server then, or it already followed a server that was up.
   */
  #excused(id: string, srv: NodeSnapshot): boolean {
    if (this.preempt) return false;
    const office = this.#office.get(srv.id);
    if (!office) return false;
    // Still discovering (one heartbeat, the default) when the server took office: a late joiner too.
    if ((this.#joinedAt.get(id) ?? -Infinity) > office.t - DISCOVERY_NS) return true;
    const then = office.nodes.find((s) => s.id === id);
    const srvThen = office.nodes.find((s) => s.id === srv.id);
    if (!then || !then.up || !srvThen || then.group !== srvThen.group) return true;
    // Ranks move (a node becomes synchronised): what counts is the order when the server was chosen.
    if (comparePrecedence(then.rank, srvThen.rank) >= 0) return true;
    return then.role === Role.Client && office.nodes.some((s) => s.id === then.leaderId && s.up && s.group === then.group);
  }

  finish(): RunMetrics {
    const nodes = this.#last;
    const servers = nodes.filter((s) => s.up && s.role === Role.Server);
    const { settled, maxOffNs, why } = settledState(nodes);
    if (!settled) this.#violate(`not settled at the end: ${why}`);
    else if (maxOffNs > SYNC_BOUND_NS) this.#violate(`not all within 1 ms of the server at the end (max ${maxOffNs} ns)`);
    for (const srv of servers) {
      const better = nodes.find(
        (r) => r.up && r.group === srv.group && this.capable(r.id) && comparePrecedence(r.rank, srv.rank) < 0 && !this.#excused(r.id, srv),
      );
      if (better) this.#violate(`server ${srv.id} is outranked by ${better.id}, which was there before it`);
      if (this.#floorAtLoss !== null && srv.nodeNs < this.#floorAtLoss) this.#violate(`server ${srv.id} runs behind the largest saved floor`);
    }
    const since = (t: number | null): number | null => (t === null ? null : Math.max(0, t - this.measureFromNs) / 1e6);
    const m: RunMetrics = {
      timeToOneServerMs: since(this.#settledSince),
      timeToSyncedMs: since(this.#syncedSince),
      maxOffsetNs: this.#syncedSince === null ? null : Number(this.#maxOffsetNs),
      violations: this.violations,
      servers: servers.map((s) => s.id),
    };
    const b = this.bounds;
    if (b.oneServerMs !== undefined && !(m.timeToOneServerMs !== null && m.timeToOneServerMs <= b.oneServerMs))
      this.#violate(`one server took ${m.timeToOneServerMs ?? 'forever'} ms (bound ${b.oneServerMs} ms)`);
    if (b.syncedMs !== undefined && !(m.timeToSyncedMs !== null && m.timeToSyncedMs <= b.syncedMs))
      this.#violate(`all within 1 ms took ${m.timeToSyncedMs ?? 'forever'} ms (bound ${b.syncedMs} ms)`);
    if (b.recoveryMs !== undefined && (this.#recoverFrom !== null || this.#slowestRecoveryMs > b.recoveryMs))
      this.#violate(`recovery took ${this.#recoverFrom !== null ? 'forever' : `${this.#slowestRecoveryMs} ms`} (bound ${b.recoveryMs} ms)`);
    if (b.server !== undefined && (servers.length !== 1 || servers[0]!.id !== b.server))
      this.#violate(`expected ${b.server} to serve, got ${servers.map((s) => s.id).join(',') || 'none'}`);
    return m;
  }
}

/** One server per partition, every other live node its client; and the largest offset from that server. */
export function settledState(nodes: NodeSnapshot[]): { settled: boolean; maxOffNs: bigint; why: string } {
  const groups = new Map<number, NodeSnapshot[]>();
  for (const s of nodes) if (s.up) groups.set(s.group, [...(groups.get(s.group) ?? []), s]);
  let maxOffNs = 0n;
  for (const members of groups.values()) {
    const servers = members.filter((s) => s.role === Role.Server);
    if (servers.length !== 1)
      return { settled: false, maxOffNs, why: `${servers.length} servers (${servers.map((s) => s.id).join(',')}) in a partition of ${members.length}` };
    const srv = servers[0]!;
    for (const s of members) {
      if (s === srv) continue;
      if (s.role !== Role.Client || s.leaderId !== srv.id)
        return { settled: false, maxOffNs, why: `${s.id} is ${Role[s.role]}${s.leaderId ? ` following ${s.leaderId}` : ''}, server is ${srv.id}` };
      const off = s.nodeNs > srv.nodeNs ? s.nodeNs - srv.nodeNs : srv.nodeNs - s.nodeNs;
      if (off > maxOffNs) maxOffNs = off;
    }
  }
  return { settled: groups.size > 0, maxOffNs, why: groups.size ? '' : 'no node up' };
}
