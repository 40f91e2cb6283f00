// Prometheus text exposition (format 0.0.4), written exactly: HELP and TYPE
// per family, escaped label values, one sample per line. Served over plain
// HTTP on [metrics] listen; the daemon passes a status snapshot.
import http from 'node:http';

import { ROLE_NAMES, type Status } from './status.js';

type Sample = [labels: Record<string, string>, value: number | bigint | string];

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

class Writer {
  readonly lines: string[] = [];
  family(name: string, type: 'gauge' | 'counter', help: string, samples: Sample[]): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      const l = Object.entries(labels)
        .map(([k, v]) => `${k}="${esc(v)}"`)
        .join(',');
      this.lines.push(`${name}${l ? `{${l}}` : ''} ${value}`);
    }
  }
}

const snake = (s: string): string => s.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());

export function renderMetrics(s: Status): string {
  const w = new Writer();
  w.family(
    'clocktower_role',
    'gauge',
    'Election role: 1 for the current one.',
    ROLE_NAMES.map((r) => [{ role: r }, s.role === r ? 1 : 0]),
  );
  w.family(
    'clocktower_leader_info',
    'gauge',
    'The elected server this node follows or is (1), with its id and address.',
    s.leader ? [[{ id: s.leader.id, address: s.leader.address }, 1]] : [],
  );
  w.family('clocktower_priority', 'gauge', 'Configured priority (0 is the highest).', [[{}, s.priority]]);
  w.family('clocktower_stratum', 'gauge', 'Stratum this node serves (16: unsynchronised).', [[{}, s.stratum]]);
  w.family('clocktower_leap', 'gauge', 'Leap indicator served (3: unsynchronised).', [[{}, s.leap]]);
  w.family('clocktower_offset_from_system_seconds', 'gauge', 'Node clock minus the system clock.', [[{}, Number(BigInt(s.clock.offset_from_system_ns)) / 1e9]]);
  w.family('clocktower_frequency_ppm', 'gauge', 'Frequency correction of the node clock.', [[{}, s.clock.freq_ppm]]);
  w.family(
    'clocktower_last_offset_seconds',
    'gauge',
    'Last measured offset to the source (source − node).',
    s.source?.last_offset_ns != null ? [[{ source: s.source.address }, Number(BigInt(s.source.last_offset_ns)) / 1e9]] : [],
  );
  w.family('clocktower_jitter_seconds', 'gauge', 'Jitter of the source.', s.source ? [[{ source: s.source.address }, s.source.jitter_ns / 1e9]] : []);
  w.family(
    'clocktower_source_interleaved_replies_total',
    'counter',
    "Replies from the source that carried the server's real transmit time (interleaved mode, RFC 9769).",
    s.source ? [[{ source: s.source.address }, s.source.interleaved]] : [],
  );
  w.family('clocktower_peers', 'gauge', 'Cluster peers heard recently.', [[{}, s.peers.filter((p) => p.live).length]]);
  w.family(
    'clocktower_ntp_requests_total',
    'counter',
    'NTP datagrams by outcome.',
    Object.entries(s.ntp.counters).map(([k, v]) => [{ result: snake(k) }, v]),
  );
  const e = s.election.counters;
  w.family('clocktower_election_messages_sent_total', 'counter', 'Election messages sent by type.', [
    [{ type: 'query' }, e.sentQuery],
    [{ type: 'status' }, e.sentStatus],
    [{ type: 'leaving' }, e.sentLeaving],
  ]);
  w.family('clocktower_election_messages_received_total', 'counter', 'Election messages accepted.', [[{}, e.received]]);
  w.family('clocktower_election_dropped_total', 'counter', 'Election messages dropped by reason.', [
    [{ reason: 'malformed' }, e.dropMalformed],
    [{ reason: 'unauthenticated' }, e.dropUnauthenticated],
    [{ reason: 'bad_mac' }, e.dropBadMac],
    [{ reason: 'replay' }, e.dropReplay],
    [{ reason: 'version' }, e.dropVersion],
  ]);
  w.family('clocktower_auth_failures_total', 'counter', 'Authentication failures: NTP bad MAC or missing key, election bad MAC or missing key.', [
    [{ protocol: 'ntp' }, BigInt(s.ntp.counters['dropBadMac'] ?? 0) + BigInt(s.ntp.counters['dropUnauthenticated'] ?? 0)],
    [{ protocol: 'election' }, e.dropBadMac + e.dropUnauthenticated],
  ]);
  w.family('process_resident_memory_bytes', 'gauge', 'Resident memory of the daemon.', [[{}, s.process.rss_bytes]]);
  w.family('process_open_fds', 'gauge', 'Open file descriptors of the daemon.', [[{}, s.process.open_fds]]);
  w.family('clocktower_js_heap_used_bytes', 'gauge', 'JavaScript heap in use.', [[{}, s.process.heap_used_bytes]]);
  w.family('clocktower_uptime_seconds', 'gauge', 'Seconds since the daemon started.', [[{}, s.uptime_s]]);
  return w.lines.join('\n') + '\n';
}

export async function serveMetrics(host: string, port: number, snapshot: () => Status): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url !== '/metrics' && req.url !== '/')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(renderMetrics(snapshot()));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
