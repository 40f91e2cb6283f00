// What `clocktower status --json` prints and the metrics are made of: one
// snapshot of a running node. Nanosecond quantities that can exceed 2^53 are
// decimal strings.
import { readdirSync } from 'node:fs';

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
  /** Rejected responses by reason (test1-duplicate, test2-bogus, test5-auth, kiss, ...). */
  rejects: Record<string, number>;
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
