// The daemon's configuration: TOML (parsed by smol-toml), checked key by key
// against the schema below. Every mistake is a ConfigError naming the file,
// the line and the key (docs/config.md lists every key). The embedded
// default is what `clocktower run` uses with no file: one node on loopback,
// virtual clock, state in a per-user directory.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { parse as parseToml, TomlError } from 'smol-toml';

import { ConfigError, errorCode } from '../util/errors.js';
import {
  bool,
  duration,
  filePath,
  hostPort,
  int,
  ipPort,
  list,
  cidr,
  locateKeys,
  oneOf,
  pollLog2,
  Reader,
  startTime,
  str,
  want,
  type Table,
} from './config-values.js';
import { NTS_KE_DEFAULT_PORT } from '../ntp/nts-ke.js';
import { formatHostPort, type HostPort } from './hostport.js';

export { parseDurationNs } from './config-values.js';

export const DEFAULT_NTP_PORT = 123;
export const DEFAULT_CLUSTER_PORT = 12300;

export interface UpstreamConfig {
  /** As written: a name or an address, with the port. */
  host: string;
  port: number;
  minPollLog2: number;
  maxPollLog2: number;
  iburst: boolean;
  keyId: number | null;
  /** Ask in interleaved form (RFC 9769; chrony's xleave). */
  interleaved: boolean;
  /** NTS (RFC 8915): run NTS-KE with the server on this port first, then authenticate every exchange; null: plain. */
  ntsPort: number | null;
}

/** `[nts] cert_time_check_after`: when certificate dates start to count (the first-boot rule, docs/nts.md). */
export type CertTimeCheck = 'start' | 'nts-sync';

export interface NtsConfig {
  /** The NTS-KE server's address while this node is the elected server. */
  listen: HostPort;
  /** PEM chain and key the NTS-KE server presents; null: this node does not serve NTS. */
  certificate: string | null;
  privateKey: string | null;
  /** PEM CA certificates an NTS client trusts; null: the system's. */
  ca: string | null;
  /** The name the elected server's certificate must carry; null: its address. */
  serverName: string | null;
  certTimeCheckAfter: CertTimeCheck;
  /** How often the cookie master key is replaced (two old ones are honoured). */
  keyRotationNs: bigint;
}

export interface BroadcastConfig {
  /** Where to send mode-5 packets (a broadcast or multicast address). */
  to: HostPort;
  intervalLog2: number;
  keyId: number | null;
}

export interface Config {
  /** The file it came from, or null for the embedded default. */
  file: string | null;
  node: { id: string; priority: number };
  ntp: {
    listen: HostPort[];
    allow: string[];
    deny: string[];
    denyAction: 'kod' | 'drop';
    rateLimit: { intervalS: number; burst: number; kodIntervalS: number } | null;
    keys: string | null;
    requireAuth: boolean;
    /** Extra server threads per listener (SO_REUSEPORT); 0: the main thread alone. */
    threads: number;
    /** Replies whose kernel TX stamps are kept for interleaved clients (RFC 9769); 0: basic mode only. */
    interleavedEntries: number;
    broadcast: BroadcastConfig | null;
    broadcastClient: boolean;
    /** Reach the elected server with NTS (its NTS-KE on [nts] listen's port). */
    nts: boolean;
  };
  /** The [nts] table; null when absent. */
  nts: NtsConfig | null;
  cluster: {
    listen: HostPort;
    peers: HostPort[];
    keyFile: string | null;
    keyId: number | null;
    multicast: HostPort | null;
    heartbeatNs: bigint;
    preempt: boolean;
    /** Follow the elected server in interleaved mode (RFC 9769): its replies carry their real transmit times. */
    interleaved: boolean;
  };
  upstream: { servers: UpstreamConfig[] };
  clock: {
    mode: 'virtual' | 'system';
    /** Virtual only: the node clock at process start (Unix ns), or null for the system time. */
    startNs: bigint | null;
    stepThresholdNs: number;
    localStratum: number;
    /** The operator vouches for this clock: the node is a reference at local_stratum. */
    trusted: boolean;
    allowBackwards: boolean;
  };
  /** saveIntervalNs: how often floor and drift are saved while the node has time (what a power cut can cost). */
  state: { dir: string; saveIntervalNs: bigint };
  control: { socket: string };
  metrics: { listen: HostPort | null };
  log: { level: LogLevel };
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Where a user's own node keeps its state with no config file. */
export function userStateDir(env = process.env): string {
  const base = env['XDG_STATE_HOME'] || path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'clocktower');
}

/** The embedded default: a single node that is safe anywhere. */
export function defaultConfigText(env = process.env): string {
  const dir = userStateDir(env);
  return `# clocktower's embedded default: one node, loopback only, virtual clock.
[node]
priority = 100
[ntp]
listen = ["127.0.0.1:11123"]
[cluster]
listen = "127.0.0.1:${DEFAULT_CLUSTER_PORT}"
[clock]
mode = "virtual"
[state]
dir = ${JSON.stringify(dir)}
[control]
socket = ${JSON.stringify(path.join(dir, 'clocktower.sock'))}
`;
}

const TABLES: Record<string, string[]> = {
  node: ['id', 'priority'],
  ntp: [
    'listen',
    'allow',
    'deny',
    'deny_action',
    'rate_limit',
    'keys',
    'require_auth',
    'broadcast',
    'broadcast_client',
    'threads',
    'interleaved_entries',
    'nts',
  ],
  nts: ['listen', 'certificate', 'private_key', 'ca', 'server_name', 'cert_time_check_after', 'key_rotation'],
  cluster: ['listen', 'peers', 'key_file', 'key_id', 'multicast', 'heartbeat', 'preempt', 'interleaved'],
  upstream: ['servers'],
  clock: ['mode', 'start', 'step_threshold', 'local_stratum', 'trusted', 'allow_backwards'],
  state: ['dir', 'save_interval'],
  control: ['socket'],
  metrics: ['listen'],
  log: ['level'],
};

/** The multicast group cluster nodes announce to with `multicast = true`. */
export const CLUSTER_MULTICAST_GROUP = '239.255.77.123';

/** Parses and checks a config; `file` names it in errors and anchors relative paths. */
export function parseConfig(text: string, file: string): Config {
  let doc: Table;
  try {
    doc = parseToml(text) as Table;
  } catch (e) {
    if (e instanceof TomlError) throw new ConfigError(file, e.line, '', `not valid TOML: ${e.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '')}`);
    throw e;
  }
  const r = new Reader(file, locateKeys(text));
  for (const k of Object.keys(doc))
    if (!(k in TABLES)) r.fail(k, `unknown ${typeof doc[k] === 'object' ? 'table' : 'key'} (known tables: ${Object.keys(TABLES).join(', ')})`);
  const t = (name: string): Table => r.table(doc[name], name, TABLES[name]!);
  const rel = (p: string): string => (path.isAbsolute(p) || file === '<default>' ? p : path.resolve(path.dirname(file), p));

  const node = t('node');
  const ntp = t('ntp');
  const cluster = t('cluster');
  const upstream = t('upstream');
  const clock = t('clock');
  const state = t('state');
  const control = t('control');
  const metrics = t('metrics');
  const log = t('log');
  const ntsTable = doc['nts'] === undefined ? null : t('nts');

  const rate = ntp['rate_limit'];
  let rateLimit: Config['ntp']['rateLimit'] = null;
  if (rate !== undefined && rate !== false) {
    const rt = rate === true ? {} : r.table(rate, 'ntp.rate_limit', ['interval', 'burst', 'kod_interval']);
    rateLimit = {
      intervalS: r.get(rt, 'ntp.rate_limit', 'interval', duration(1e6, 3600e9), 0.125e9) / 1e9,
      burst: r.get(rt, 'ntp.rate_limit', 'burst', int(1, 1024), 16),
      kodIntervalS: r.get(rt, 'ntp.rate_limit', 'kod_interval', duration(1e6, 3600e9), 1e9) / 1e9,
    };
  }

  let broadcast: BroadcastConfig | null = null;
  if (ntp['broadcast'] !== undefined) {
    const bt = r.table(ntp['broadcast'], 'ntp.broadcast', ['address', 'interval', 'key']);
    if (bt['address'] === undefined) r.fail('ntp.broadcast.address', 'missing (where to send, e.g. "10.0.0.255:123")');
    const intervalNs = r.get(bt, 'ntp.broadcast', 'interval', duration(1e9, 2 ** 17 * 1e9), 64e9);
    broadcast = {
      to: r.get(bt, 'ntp.broadcast', 'address', ipPort(DEFAULT_NTP_PORT), { host: '', port: 0 }),
      intervalLog2: Math.round(Math.log2(intervalNs / 1e9)),
      keyId: r.get(bt, 'ntp.broadcast', 'key', int(1, 2 ** 32 - 1), null as number | null),
    };
  }

  const servers = r
    .get(upstream, 'upstream', 'servers', (v) => (Array.isArray(v) ? v : want('an array', v)), [] as unknown[])
    .map((v, i) => {
      const key = `upstream.servers.${i + 1}`;
      if (typeof v === 'string') return upstreamEntry(r, key, { address: v });
      return upstreamEntry(r, key, r.table(v, key, ['address', 'minpoll', 'maxpoll', 'iburst', 'key', 'interleaved', 'nts', 'nts_port']));
    });

  const mode = r.get(clock, 'clock', 'mode', oneOf('virtual', 'system'), 'virtual');
  const startNs = r.get(clock, 'clock', 'start', startTime, null as bigint | null);
  if (startNs !== null && mode !== 'virtual') r.fail('clock.start', 'only a virtual clock can start at a given time (mode = "virtual")');

  const listenCluster = r.get(cluster, 'cluster', 'listen', ipPort(DEFAULT_CLUSTER_PORT), { host: '0.0.0.0', port: DEFAULT_CLUSTER_PORT });
  const multicast = r.get(cluster, 'cluster', 'multicast', bool, false);
  if (multicast && net.isIPv6(listenCluster.host)) r.fail('cluster.multicast', 'multicast announcements are IPv4 only; list the peers instead');

  const keyFile = r.get(cluster, 'cluster', 'key_file', filePath, null as string | null);
  const cfg: Config = {
    file: file === '<default>' ? null : file,
    node: {
      id: r.get(
        node,
        'node',
        'id',
        (v) => {
          const s = str(v);
          if (!/^[\x21-\x7e]{1,64}$/.test(s)) throw new Error('must be 1..64 printable ASCII characters without spaces');
          return s;
        },
        os.hostname().slice(0, 64) || 'clocktower',
      ),
      priority: r.get(node, 'node', 'priority', int(0, 2 ** 32 - 1), 100),
    },
    ntp: {
      listen: r.get(ntp, 'ntp', 'listen', list(ipPort(DEFAULT_NTP_PORT)), [{ host: '0.0.0.0', port: DEFAULT_NTP_PORT }]),
      allow: r.get(ntp, 'ntp', 'allow', list(cidr), []),
      deny: r.get(ntp, 'ntp', 'deny', list(cidr), []),
      denyAction: r.get(ntp, 'ntp', 'deny_action', oneOf('kod', 'drop'), 'kod'),
      rateLimit,
      keys: ((k) => (k === null ? null : rel(k)))(r.get(ntp, 'ntp', 'keys', filePath, null as string | null)),
      requireAuth: r.get(ntp, 'ntp', 'require_auth', bool, false),
      threads: r.get(ntp, 'ntp', 'threads', int(0, 64), 0),
      interleavedEntries: r.get(ntp, 'ntp', 'interleaved_entries', int(0, 1 << 20), 4096),
      broadcast,
      broadcastClient: r.get(ntp, 'ntp', 'broadcast_client', bool, false),
      nts: r.get(ntp, 'ntp', 'nts', bool, false),
    },
    nts: ntsTable === null ? null : ntsConfig(r, ntsTable, rel),
    cluster: {
      listen: listenCluster,
      peers: r.get(cluster, 'cluster', 'peers', list(ipPort(DEFAULT_CLUSTER_PORT)), []),
      keyFile: keyFile === null ? null : rel(keyFile),
      keyId: r.get(cluster, 'cluster', 'key_id', int(1, 2 ** 32 - 1), null as number | null),
      multicast: multicast ? { host: CLUSTER_MULTICAST_GROUP, port: listenCluster.port } : null,
      heartbeatNs: BigInt(Math.round(r.get(cluster, 'cluster', 'heartbeat', duration(100e6, 60e9), 1e9))),
      preempt: r.get(cluster, 'cluster', 'preempt', bool, false),
      interleaved: r.get(cluster, 'cluster', 'interleaved', bool, true),
    },
    upstream: { servers },
    clock: {
      mode,
      startNs,
      stepThresholdNs: r.get(clock, 'clock', 'step_threshold', duration(0, 3600e9), 128e6),
      localStratum: r.get(clock, 'clock', 'local_stratum', int(1, 15), 10),
      trusted: r.get(clock, 'clock', 'trusted', bool, false),
      allowBackwards: r.get(clock, 'clock', 'allow_backwards', bool, false),
    },
    state: {
      dir: rel(r.get(state, 'state', 'dir', filePath, '/var/lib/clocktower')),
      saveIntervalNs: BigInt(r.get(state, 'state', 'save_interval', duration(1e9, 86_400e9), 60e9)),
    },
    control: { socket: rel(r.get(control, 'control', 'socket', filePath, '/run/clocktower.sock')) },
    metrics: { listen: r.get(metrics, 'metrics', 'listen', ipPort(9123), null as HostPort | null) },
    log: { level: r.get(log, 'log', 'level', oneOf(...LOG_LEVELS), 'info') },
  };
  if (cfg.ntp.listen.length === 0) r.fail('ntp.listen', 'needs at least one address: a node that cannot serve NTP cannot be elected');
  if (cfg.cluster.keyId !== null && cfg.cluster.keyFile === null) r.fail('cluster.key_id', 'needs key_file');
  if (Buffer.byteLength(cfg.control.socket) > 107) r.fail('control.socket', 'path longer than a Unix socket allows (107 bytes)');
  if (cfg.ntp.nts && cfg.nts === null) r.fail('ntp.nts', 'needs an [nts] table (at least its listen port, where the elected server runs NTS-KE)');
  return cfg;
}

function ntsConfig(r: Reader, t: Table, rel: (p: string) => string): NtsConfig {
  const file = (key: string) => ((p) => (p === null ? null : rel(p)))(r.get(t, 'nts', key, filePath, null as string | null));
  const c: NtsConfig = {
    listen: r.get(t, 'nts', 'listen', ipPort(NTS_KE_DEFAULT_PORT), { host: '0.0.0.0', port: NTS_KE_DEFAULT_PORT }),
    certificate: file('certificate'),
    privateKey: file('private_key'),
    ca: file('ca'),
    serverName: r.get(t, 'nts', 'server_name', str, null as string | null),
    certTimeCheckAfter: r.get(t, 'nts', 'cert_time_check_after', oneOf('start', 'nts-sync'), 'start'),
    keyRotationNs: BigInt(r.get(t, 'nts', 'key_rotation', duration(60e9, 365 * 86_400e9), 7 * 86_400e9)),
  };
  // The key that is there is named (it has a line); the message names the one missing.
  if (c.certificate !== null && c.privateKey === null) r.fail('nts.certificate', 'needs private_key (the certificate’s key, PEM)');
  if (c.certificate === null && c.privateKey !== null) r.fail('nts.private_key', 'needs certificate (the PEM chain NTS-KE presents)');
  return c;
}

function upstreamEntry(r: Reader, key: string, t: Table): UpstreamConfig {
  if (t['address'] === undefined) r.fail(`${key}.address`, 'missing');
  const hp = r.get(t, key, 'address', hostPort(DEFAULT_NTP_PORT), { host: '', port: 0 });
  const e: UpstreamConfig = {
    host: hp.host,
    port: hp.port,
    minPollLog2: r.get(t, key, 'minpoll', pollLog2, 6),
    maxPollLog2: r.get(t, key, 'maxpoll', pollLog2, 10),
    iburst: r.get(t, key, 'iburst', bool, true),
    keyId: r.get(t, key, 'key', int(1, 2 ** 32 - 1), null as number | null),
    interleaved: r.get(t, key, 'interleaved', bool, false),
    ntsPort: r.get(t, key, 'nts', bool, false) ? r.get(t, key, 'nts_port', int(1, 65535), NTS_KE_DEFAULT_PORT) : null,
  };
  if (t['nts_port'] !== undefined && e.ntsPort === null) r.fail(`${key}.nts_port`, 'goes with nts = true');
  if (e.minPollLog2 > e.maxPollLog2) r.fail(`${key}.minpoll`, `minpoll ${e.minPollLog2} is above maxpoll ${e.maxPollLog2}`);
  return e;
}

/** Reads and checks a config file; errors name the file. */
export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, 0, '', `cannot read: ${errorCode(e)}`);
  }
  return parseConfig(text, file);
}

export function defaultConfig(env = process.env): Config {
  return parseConfig(defaultConfigText(env), '<default>');
}

/** One line per key, for `check-config` and the startup log. */
export function describeConfig(c: Config): string {
  return [
    `node ${c.node.id} priority ${c.node.priority}`,
    `ntp on ${c.ntp.listen.map(formatHostPort).join(', ')}`,
    `cluster on ${formatHostPort(c.cluster.listen)}, ${c.cluster.peers.length} peer(s)${c.cluster.multicast ? ', multicast' : ''}${c.cluster.keyFile ? ', keyed' : ''}`,
    `upstream ${c.upstream.servers.length ? c.upstream.servers.map((s) => formatHostPort({ host: s.host, port: s.port })).join(', ') : 'none'}`,
    `clock ${c.clock.mode}${c.clock.trusted ? ' (trusted)' : ''}, state in ${c.state.dir}, control ${c.control.socket}`,
    ...(c.nts
      ? [
          `nts-ke on ${formatHostPort(c.nts.listen)}${c.nts.certificate ? '' : ' (no certificate: not served)'}${c.ntp.nts ? ', elected server reached with NTS' : ''}, certificate dates from ${c.nts.certTimeCheckAfter}`,
        ]
      : []),
  ].join('\n');
}
