// The node's events as log lines: one line per meaningful event, in the
// daemon's words (log.ts writes them). What a line needs beyond the event
// itself comes in EventContext, read only when that line is written.
import type { NodeEvent } from '../cluster/node.js';
import { LEADER_SOURCE } from '../cluster/node.js';
import type { Logger } from './log.js';
import { VERSION as ELECTION_VERSION } from '../election/wire.js';
import { ROLE_NAMES } from './status.js';

export interface EventContext {
  nodeId: string;
  /** The elected server's id, for the leader source's lines. */
  leaderId(): string | undefined;
  /** Why the NTP listeners did not bind. */
  listenerError(): string | null;
  /** For sample lines: system REALTIME now, the node clock at that instant, and how late the kernel stamped T1. */
  sampleClock(sourceId: string): { sysNs: bigint; nodeNs: bigint; t1KernelLagNs: bigint | null };
}

const ms = (ns: bigint): string => (Number(ns) / 1e6).toFixed(3);
const iso = (ns: bigint): string => new Date(Number(ns / 1_000_000n)).toISOString();

export function logEvent(log: Logger, e: NodeEvent, ctx: EventContext): void {
  const source = (id: string | null) => (id === LEADER_SOURCE ? ctx.leaderId() : id);
  switch (e.kind) {
    case 'role':
      log.info(`role ${ROLE_NAMES[e.from]} -> ${ROLE_NAMES[e.to]}`, { why: e.why });
      break;
    case 'leader':
      log.info(e.leader ? 'leader' : 'no leader', e.leader ? { id: e.leader.id, address: e.leader.address, ntp_port: e.leader.ntpPort } : {});
      break;
    case 'serve-failed':
      log.warn('could not start serving NTP', { attempt: e.attempt, gave_up: e.gaveUp, error: ctx.listenerError() });
      break;
    case 'stalled':
      log.warn('daemon stalled', { gap_ms: Number(e.gapNs / 1_000_000n) });
      break;
    case 'old-version':
      log.warn('a node speaks another version of the election protocol; its messages are ignored until it is upgraded', {
        address: e.address,
        its_version: e.version,
        ours: ELECTION_VERSION,
      });
      break;
    case 'id-conflict':
      log.error('another node uses this id', { id: ctx.nodeId, address: e.address });
      break;
    case 'correction':
      log.info(`clock ${e.decision}`, { offset_ms: ms(e.offsetNs), why: e.why });
      break;
    case 'floor-refused':
      log.warn('refused a step back past the time floor', { offset_ms: ms(e.offsetNs), floor: iso(e.floorNs) });
      break;
    case 'sample': {
      // chrony's measurements log, at debug level: with the local clock's
      // distance from the system clock, a run can be replayed offline
      // (bench/tools/replay-samples.ts) against the true time.
      if (log.level !== 'debug') break;
      const c = ctx.sampleClock(e.sourceId);
      // t1_kernel_lag_ns: how long after the user-space stamp the kernel's TX stamp was taken (absent: T1 was the user stamp).
      const lag = c.t1KernelLagNs !== null ? { t1_kernel_lag_ns: c.t1KernelLagNs } : {};
      log.debug('sample', {
        source: source(e.sourceId),
        offset_ns: e.offsetNs,
        delay_ns: e.delayNs,
        sys_ns: c.sysNs,
        local_minus_sys_ns: c.nodeNs - c.sysNs,
        ...lag,
      });
      break;
    }
    case 'synced':
      log.info(e.synced ? 'synchronised' : 'lost synchronisation', { source: source(e.sourceId) });
      break;
    case 'nts':
      if (e.what === 'session') log.info('nts-ke: session', { source: source(e.sourceId), detail: e.detail });
      else log.warn('nts-ke failed', { source: source(e.sourceId), error: e.detail });
      break;
  }
}
