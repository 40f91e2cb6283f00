// `clocktower bench`: drives the native load generator against one NTP
// server. Targets outside loopback are refused unless allowRemote is set: a
// load test must never hit a network by accident.
import { lookup } from 'node:dns/promises';
import net from 'node:net';

import { tools, type LoadResult } from '../native/tools-binding.js';
import { formatHostPort, parseHostPort } from '../daemon/hostport.js';

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

export async function bench(target: string, o: BenchOptions = {}): Promise<BenchReport> {
  const hp = parseHostPort(target, 123);
  const address = net.isIP(hp.host) ? hp.host : (await lookup(hp.host)).address;
  if (!isLoopback(address) && !o.allowRemote) {
    throw new Error(`refusing to load ${address}: not a loopback address (pass --allow-remote to load a host you own)`);
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
