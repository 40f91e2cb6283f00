// `clocktower bench`: drives the native load generator against one NTP
// server. Targets outside loopback are refused unless allowRemote is set: a
// load test must never hit a network by accident.
import { lookup } from 'node:dns/promises';
import net from 'node:net';

import { tools, type LoadResult } from '../native/tools-binding.js';
import { formatHostPort, parseHostPort } from '../daemon/hostport.js';
import { fetchNtsSession } from '../daemon/nts-ke-client.js';
import { NTS_KE_DEFAULT_PORT } from '../ntp/nts-ke.js';

export interface BenchOptions {
  /** Requests in flight (closed loop), across all sockets. Default 64. */
  window?: number;
  /** Open loop at this many requests per second instead (0: closed loop). */
  ratePps?: number;
  durationMs?: number;
  /** Source ports (sockets) to spread requests over. Default 4. */
  sockets?: number;
  /** A request unanswered this long is lost. Default 200 ms. */
  timeoutMs?: number;
  allowRemote?: boolean;
  /** Ask in interleaved form (RFC 9769) from each socket's first replies on. */
  interleaved?: boolean;
  /**
   * NTS (RFC 8915): run NTS-KE with the target first (it names an NTS-KE
   * server, port 4460 by default), then load the NTP server it names with
   * requests carrying its first cookie, sealed under C2S; a reply counts only
   * when it authenticates under S2C.
   */
  nts?: { ca?: string | Buffer; servername?: string };
}

export interface BenchReport {
  target: string;
  sent: number;
  valid: number;
  invalid: number;
  kod: number;
  lost: number;
  /** Replies that were interleaved (null: asked in basic form). */
  interleaved: number | null;
  /** Fraction of sent requests with no valid reply (KoDs count as answered). */
  loss: number;
  replies_per_s: number;
  duration_s: number;
  latency_ns: { p50: number; p99: number; p999: number };
}

export function isLoopback(address: string): boolean {
  if (net.isIPv4(address)) return address.startsWith('127.');
  const a = address.toLowerCase();
  return a === '::1' || a.startsWith('::ffff:127.');
}

async function resolveTarget(host: string, allowRemote: boolean | undefined): Promise<string> {
  const address = net.isIP(host) ? host : (await lookup(host)).address;
  if (!isLoopback(address) && !allowRemote) {
    throw new Error(`refusing to load ${address}: not a loopback address (pass --allow-remote to load a host you own)`);
  }
  return address;
}

export async function bench(target: string, o: BenchOptions = {}): Promise<BenchReport> {
  let hp = parseHostPort(target, o.nts ? NTS_KE_DEFAULT_PORT : 123);
  let address = await resolveTarget(hp.host, o.allowRemote);
  let nts: { cookie: Uint8Array; c2s: Uint8Array; s2c: Uint8Array } | undefined;
  if (o.nts) {
    if (o.interleaved) throw new RangeError('--nts and --interleaved cannot be combined');
    const s = await fetchNtsSession({ host: address, port: hp.port, ca: o.nts.ca, servername: o.nts.servername ?? (net.isIP(hp.host) ? undefined : hp.host) });
    const cookie = s.cookies[0];
    if (!cookie || cookie.length > 1024) throw new Error(`NTS-KE with ${target} gave ${cookie ? `a ${cookie.length}-byte cookie` : 'no cookie'}`);
    nts = { cookie, ...s.keys };
    hp = { host: s.ntpServer, port: s.ntpPort };
    address = await resolveTarget(s.ntpServer, o.allowRemote);
  }
  const durationMs = o.durationMs ?? 5000;
  if (!(durationMs > 0 && durationMs <= 3_600_000)) throw new RangeError('duration must be in (0, 3600] s');
  const window = o.window ?? 64;
  const sockets = o.sockets ?? 4;
  if (!Number.isInteger(window) || window < 1 || window > 100_000) throw new RangeError('window must be 1..100000');
  if (!Number.isInteger(sockets) || sockets < 1 || sockets > 256) throw new RangeError('sockets must be 1..256');
  const ratePps = o.ratePps ?? 0;
  if (!(ratePps >= 0 && ratePps <= 10_000_000)) throw new RangeError('rate must be 0..10000000 pps');
  const r: LoadResult = await tools().runLoad({
    address,
    port: hp.port,
    family: net.isIPv6(address) ? 6 : 4,
    sockets,
    window,
    ratePps,
    durationMs,
    timeoutMs: o.timeoutMs ?? 200,
    batch: 32,
    interleaved: o.interleaved === true,
    ...(nts ? { nts } : {}),
  });
  const seconds = r.elapsedNs / 1e9;
  return {
    target: formatHostPort({ host: address, port: hp.port }),
    sent: r.sent,
    valid: r.valid,
    invalid: r.invalid,
    kod: r.kod,
    lost: r.lost,
    interleaved: o.interleaved ? r.interleaved : null,
    loss: r.sent ? r.lost / r.sent : 0,
    replies_per_s: seconds > 0 ? r.valid / seconds : 0,
    duration_s: seconds,
    latency_ns: r.latencyNs,
  };
}
