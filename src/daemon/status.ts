// What `clocktower status --json` prints and the metrics are made of: one
// snapshot of a running node. Nanosecond quantities that can exceed 2^53 are
// decimal strings.
import { readdirSync } from 'node:fs';

import type { ClockDriver } from '../clock/driver.js';
import { LEADER_SOURCE, type ClusterNode } from '../cluster/node.js';
import { ELECTION_COUNTERS } from '../election/election.js';
import { Role } from '../election/wire.js';
import { formatRefId } from '../ntp/packet.js';
import type { ServerState } from '../ntp/wire.js';
import type { Config } from './config.js';
import { formatHostPort } from './hostport.js';
import type { NtsStatus } from './nts-service.js';

export type RoleName = 'none' | 'client' | 'server';

export interface SourceStatus {
  id: string;
  address: string;
  selected: boolean;
  reach: number;
  poll_log2: number;
  stratum: number | null;
  /** source − node at the last filter output, ns (string), or null before the first. */
  last_offset_ns: string | null;
  delay_ns: number;
  jitter_ns: number;
  /** Whether the clock filter passes this source's slower samples too (delay does not predict their error: docs/ntp-core.md). */
  filter_slow_half: boolean;
  /** Broadcast sources: "volley" while measuring the round trip, then "listening"; null for the others. */
  broadcast: 'volley' | 'listening' | null;
  accepted: number;
  rejected: number;
  /** Accepted replies that were interleaved (RFC 9769): the server's real transmit time. */
  interleaved: number;
  /** Rejected responses by reason (test1-duplicate, test2-bogus, test5-auth, kiss, ...). */
  rejects: Record<string, number>;
  /** NTS sources (RFC 8915): cookies held, NTS-KE runs and failures, NAKs, answers that did not authenticate; null without NTS. */
  nts: { cookies: number; ke_runs: number; ke_failures: number; naks: number; unauthenticated: number; last_error: string | null } | null;
}

export interface PeerStatus {
  id: string;
  address: string;
  role: RoleName;
  priority: number;
  stratum: number;
  live: boolean;
  last_heard_ms: number;
}

export interface Status {
  id: string;
  priority: number;
  role: RoleName;
  leader: { id: string; address: string } | null;
  stratum: number;
  leap: number;
  ref_id: string;
  synced: boolean;
  clock: {
    mode: 'virtual' | 'system';
    /** node clock − system REALTIME, ns. */
    offset_from_system_ns: string;
    freq_ppm: number;
    node_time: string;
  };
  /** The source the node follows (the elected server or an upstream), or null. */
  source: SourceStatus | null;
  sources: SourceStatus[];
  floor_ns: string;
  peers: PeerStatus[];
  ntp: {
    /** threads: extra server threads on that listener's port ([ntp] threads). */
    listen: { address: string; bound: boolean; threads: number }[];
    counters: Record<string, number>;
    /** Broadcast mode: where this node sends (null: it does not) and how many it has sent. */
    broadcast: { to: string; sent: number } | null;
    /** Broadcast listening: packets heard that passed the checks and that did not (null: not listening). */
    broadcast_client: { accepted: number; rejected: number } | null;
    /** Replies on the client socket from an address that is none of the sources (dropped). */
    stray_replies: number;
    /** NTS: the NTS-KE server (while elected), master keys, and the KE runs of NTS sources. */
    nts: NtsStatus;
  };
  election: { counters: Record<string, number> };
  /** Resource use, to see that a long run stays flat: resident memory, JS heap in use, open descriptors. */
  process: { rss_bytes: number; heap_used_bytes: number; open_fds: number };
  pid: number;
  uptime_s: number;
}

export const ROLE_NAMES: RoleName[] = ['none', 'client', 'server'];

/** This process's resident memory, JS heap in use and open descriptors (Linux /proc). */
export function processUse(): Status['process'] {
  const m = process.memoryUsage();
  let fds = -1;
  try {
    fds = readdirSync('/proc/self/fd').length - 1; // less the one readdir holds
  } catch {
    // not Linux
  }
  return { rss_bytes: m.rss, heap_used_bytes: m.heapUsed, open_fds: fds };
}

/** One line for a service manager (sd_notify STATUS=) and wait-sync: role, source and offset. */
export function statusLine(s: Status): string {
  const sync = s.synced ? 'synchronised' : 'not synchronised';
  const offset = s.source?.last_offset_ns != null ? `, offset ${formatOffsetMs(Number(s.source.last_offset_ns))}` : '';
  if (s.role === 'server') return `server, stratum ${s.stratum}, ${sync}${offset}`;
  if (s.role === 'client') return `client of ${s.leader ? `${s.leader.id} at ${s.leader.address}` : '(none)'}, ${sync}${offset}`;
  return `looking for a server, ${sync}${offset}`;
}

/** Signed milliseconds, three decimals: "+0.012 ms". */
export function formatOffsetMs(ns: number): string {
  return `${ns >= 0 ? '+' : ''}${(ns / 1e6).toFixed(3)} ms`;
}

/** What a status snapshot is assembled from: the node, its clock, and what the daemon's shell knows. */
export interface StatusParts {
  cfg: Config;
  node: ClusterNode;
  clock: ClockDriver;
  /** The state the NTP servers advertise. */
  served: ServerState;
  sysNs: bigint;
  monoNs: bigint;
  /** The address peers reach this node at. */
  ownAddress: string;
  ntp: Pick<Status['ntp'], 'listen' | 'counters' | 'nts'>;
  broadcastsSent: number;
}

export function assembleStatus(p: StatusParts): Status {
  const { cfg, node, clock, served: st, sysNs, monoNs } = p;
  const nodeNs = clock.nodeNs(sysNs);
  const el = node.election;
  const leader = el.leader;
  const peer = node.sync.systemPeer;
  const sources: SourceStatus[] = node.sync.sources().map((s) => ({
    id: s.cfg.id === LEADER_SOURCE ? (leader?.id ?? s.cfg.id) : s.cfg.id,
    address: formatHostPort({ host: s.target.address, port: s.target.port }),
    selected: s.cfg.id === peer,
    reach: s.reach,
    poll_log2: s.pollLog2,
    stratum: s.last?.stratum ?? null,
    last_offset_ns: s.last ? s.last.offsetNs.toString() : null,
    delay_ns: s.last?.delayNs ?? 0,
    jitter_ns: s.last?.jitterNs ?? 0,
    filter_slow_half: s.filter.slowHalfPasses,
    broadcast: s.cfg.broadcast ? (s.listening ? 'listening' : 'volley') : null,
    accepted: s.counters.accepted,
    rejected: s.counters.rejected,
    interleaved: s.counters.interleaved,
    rejects: { ...s.rejects },
    nts: s.nts
      ? {
          cookies: s.nts.session?.cookies.length ?? 0,
          ke_runs: s.nts.counters.keRuns,
          ke_failures: s.nts.counters.keFailures,
          naks: s.nts.counters.naks,
          unauthenticated: s.nts.counters.unauthenticated,
          last_error: s.nts.lastError,
        }
      : null,
  }));
  return {
    id: cfg.node.id,
    priority: cfg.node.priority,
    role: ROLE_NAMES[el.role]!,
    leader: el.role === Role.Server ? { id: cfg.node.id, address: p.ownAddress } : leader ? { id: leader.id, address: leader.address } : null,
    stratum: st.stratum === 0 ? 16 : st.stratum,
    leap: st.leap,
    ref_id: formatRefId(st.refId, st.stratum),
    synced: node.synced,
    clock: {
      mode: clock.mode,
      offset_from_system_ns: (nodeNs - sysNs).toString(),
      freq_ppm: clock.freqPpm(),
      node_time: new Date(Number(nodeNs / 1_000_000n)).toISOString(),
    },
    source: sources.find((s) => s.selected) ?? null,
    sources,
    floor_ns: node.floorNs.toString(),
    peers: el.peers(monoNs).map((x) => ({
      id: x.id,
      address: formatHostPort({ host: x.address, port: x.port }),
      role: ROLE_NAMES[x.role]!,
      priority: x.priority,
      stratum: x.stratum,
      live: x.live,
      last_heard_ms: Number((monoNs - x.lastHeardMonoNs) / 1_000_000n),
    })),
    ntp: {
      ...p.ntp,
      broadcast: cfg.ntp.broadcast ? { to: formatHostPort(cfg.ntp.broadcast.to), sent: p.broadcastsSent } : null,
      broadcast_client: cfg.ntp.broadcastClient ? { ...node.sync.broadcastCounters } : null,
      stray_replies: node.strayReplies,
    },
    election: { counters: Object.fromEntries(ELECTION_COUNTERS.map((k) => [k, el.counters[k]])) },
    process: processUse(),
    pid: process.pid,
    uptime_s: Math.round(Number(monoNs) / 1e6) / 1e3,
  };
}
