// The clocktower library: what the CLI is built on. `import { query, Daemon,
// NtpServer, ... } from 'clocktower'`. The pure cores (NTP codec, client,
// election, cluster node, simulator) take bytes, time and an RNG and return
// actions; the daemon and the native wrappers do the I/O.

// Asking servers, running a node.
export { query, type QueryOptions, type QueryResult, type QuerySample } from './tools/query.js';
export { Daemon, type DaemonOptions } from './daemon/daemon.js';
export {
  loadConfig,
  parseConfig,
  defaultConfig,
  defaultConfigText,
  describeConfig,
  parseDurationNs,
  type Config,
  type UpstreamConfig,
  type LogLevel,
} from './daemon/config.js';
export { controlRequest } from './daemon/control.js';
export type { Status, PeerStatus, SourceStatus, RoleName } from './daemon/status.js';
export { renderMetrics } from './daemon/metrics.js';
export { createLogger, type Logger } from './daemon/log.js';
export { readState, writeState, lockStateDir, type SavedState } from './daemon/state.js';
export { parseHostPort, formatHostPort, type HostPort } from './daemon/hostport.js';
export { bench, type BenchOptions, type BenchReport } from './tools/bench.js';

// The native fast path.
export { NtpServer as Server, NtpServer, SERVER_COUNTERS, type AccessOptions, type RateLimitOptions, type ServerCounter } from './native/server.js';
export { UdpEndpoint, RecordBatch, StampSource, type UdpOptions, type UdpHandlers, type Datagram, type Peer } from './native/udp.js';
export { realtimeNs, monotonicRawNs, readKernelClock, type KernelClock } from './native/clock.js';

// Clocks.
export type { ClockCommand, ClockDriver, ClockModel } from './clock/driver.js';
export { VirtualClock, type VirtualClockOptions } from './clock/virtual.js';
export { SystemClock, type KernelPort } from './clock/system.js';
export { hasCapSysTime, nativeKernel } from './clock/kernel.js';

// The pure cores.
export { decodePacket, encodePacket, formatRefId, type NtpPacket } from './ntp/packet.js';
export { buildRequest, buildResponse, processResponse, UNSYNCHRONISED, type ServerState, type Sample } from './ntp/wire.js';
export { parseKeyFile, type KeyRing, type NtpKey, type KeyType } from './ntp/auth.js';
export { SyncClient, type SyncAction, type SyncClientOptions } from './sync/client.js';
export type { SourceConfig } from './sync/source.js';
export { Election, type ElectionConfig, type ElectionAction, type ElectionEvent } from './election/election.js';
export { Role, type ClusterKey, type LeaderRef } from './election/wire.js';
export { comparePrecedence, type Rank } from './election/precedence.js';
export { ClusterNode, type ClusterNodeConfig, type NodeAction, type NodeEvent, type Now } from './cluster/node.js';
export { runScenario, SCENARIOS, type RunResult } from './sim/scenarios.js';
export { seededRng, cryptoRng, type Rng } from './util/rng.js';
export { ClocktowerError, ConfigError } from './util/errors.js';
