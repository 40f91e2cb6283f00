// `clocktower query`: asks NTP servers for the time and reports what each
// says, like msntp's display mode (seed 003). Requests go out through the
// addon's endpoint so t1 and t4 are kernel timestamps; each response passes
// the same RFC 5905 §8 tests the daemon's client applies.
import { lookup } from 'node:dns/promises';
import net from 'node:net';

import type { KeyRing } from '../ntp/auth.js';
import { formatRefId } from '../ntp/packet.js';
import { buildRequest, exchangeOf, processResponse, type Exchange, type Outstanding, type ResponseReject, type Sample } from '../ntp/wire.js';
import { ClientSockets } from '../daemon/client-socket.js';
import { formatHostPort, parseHostPort } from '../daemon/hostport.js';
import { cryptoRng, type Rng } from '../util/rng.js';
import { randomFillSync } from 'node:crypto';

const defaultRng = cryptoRng((b) => randomFillSync(b));

export interface QueryOptions {
  /** Requests per server (default 4). */
  count?: number;
  /** Wait for each response, ms (default 1000). */
  timeoutMs?: number;
  /** Pause between requests to one server, ms (default 200). */
  intervalMs?: number;
  keyId?: number;
  keys?: KeyRing;
  version?: number;
  /** Randomness for transmit timestamps (default: crypto). */
  rng?: Rng;
  /** Ask in interleaved form from the second request on (RFC 9769): the server's real transmit times, where it keeps them. */
  interleaved?: boolean;
}

export interface QuerySample {
  offsetNs: bigint;
  delayNs: number;
  dispersionNs: number;
  /** The earlier exchange, completed with the server's TX stamp of its reply. */
  interleaved: boolean;
}

export interface QueryResult {
  server: string;
  address: string | null;
  ok: boolean;
  /** Why no sample was accepted, when ok is false. */
  error: string | null;
  /** Rejections seen, by reason. */
  rejects: Record<string, number>;
  samples: QuerySample[];
  /** The lowest-delay sample (RFC 5905 §10's choice) with the server's header fields. */
  best: (Sample & { refIdText: string }) | null;
}

/** Queries each server (in parallel); never throws for a server's failure. */
export async function query(servers: string[], o: QueryOptions): Promise<QueryResult[]> {
  return Promise.all(servers.map((s) => queryOne(s, o)));
}

function describe(r: ResponseReject): string {
  return 'detail' in r && r.detail ? `${r.reason} (${r.detail})` : 'code' in r ? `${r.reason} ${r.code}` : r.reason;
}

async function queryOne(server: string, o: QueryOptions): Promise<QueryResult> {
  const result: QueryResult = { server, address: null, ok: false, error: null, rejects: {}, samples: [], best: null };
  let sockets: ClientSockets | null = null;
  try {
    const hp = parseHostPort(server, 123);
    const address = net.isIP(hp.host.split('%')[0]!) ? hp.host : (await lookup(hp.host)).address;
    result.address = formatHostPort({ host: address, port: hp.port });
    let pending: { out: Outstanding; requireKey: boolean; resolve: (v: 'done' | 'timeout') => void } | null = null;
    let lastTransmitTs: bigint | null = null;
    // The last answered exchange, which a request in interleaved form names.
    let prev: Exchange | null = null;
    sockets = new ClientSockets({
      onSent: (_tag, sysNs) => {
        if (pending) pending.out.t1Ns = sysNs;
      },
      onReply: (batch) => {
        for (let i = 0; i < batch.count; i++) {
          if (!pending) return;
          const peer = batch.peer(i);
          if (peer.address !== address || peer.port !== hp.port) {
            result.rejects['unexpected-address'] = (result.rejects['unexpected-address'] ?? 0) + 1;
            continue;
          }
          const r = processResponse(batch.data(i), {
            outstanding: pending.out,
            lastTransmitTs,
            t4Ns: batch.rxNs(i),
            localPrecisionLog2: -20,
            ...(o.keys ? { keys: o.keys } : {}),
            requireKeyId: pending.requireKey ? (o.keyId ?? null) : null,
          });
          if (!r.ok) {
            const why = describe(r);
            result.rejects[why] = (result.rejects[why] ?? 0) + 1;
            if (r.reason === 'kiss' || r.reason === 'test5-auth') {
              pending.resolve('done');
              pending = null;
            }
            continue;
          }
          lastTransmitTs = r.packet.transmitTs;
          const t1Ns = pending.out.t1Ns;
          prev = exchangeOf(r.packet, t1Ns, batch.rxNs(i));
          result.samples.push({
            offsetNs: r.sample.offsetNs,
            delayNs: r.sample.delayNs,
            dispersionNs: r.sample.dispersionNs,
            interleaved: r.interleaved === true,
          });
          if (!result.best || r.sample.delayNs < result.best.delayNs) {
            result.best = { ...r.sample, refIdText: formatRefId(r.sample.refId, r.sample.stratum) };
          }
          pending.resolve('done');
          pending = null;
        }
      },
    });
    const count = o.count ?? 4;
    const key = o.keyId !== undefined ? o.keys?.get(o.keyId) : undefined;
    if (o.keyId !== undefined && !key) throw new Error(`key ${o.keyId} is not in the key file`);
    const exchange = async (signed: boolean): Promise<'done' | 'timeout'> => {
      const version = o.version ?? 4;
      const req = buildRequest({
        rng: o.rng ?? defaultRng,
        pollLog2: 0,
        version,
        ...(signed && key ? { key } : {}),
        after: o.interleaved && version === 4 ? prev : null,
      });
      const out: Outstanding = {
        transmitTs: req.transmitTs,
        t1Ns: 0n,
        version,
        mode: 3,
        keyId: signed ? (o.keyId ?? null) : null,
        interleaved: req.interleaved,
      };
      const outcome = new Promise<'done' | 'timeout'>((resolve) => {
        const timer = setTimeout(() => resolve('timeout'), o.timeoutMs ?? 1000);
        pending = {
          out,
          requireKey: signed,
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v);
          },
        };
      });
      sockets!.send('query', req.bytes, address, hp.port);
      const r = await outcome;
      pending = null;
      return r;
    };
    for (let n = 0; n < count; n++) {
      if (n > 0) await new Promise((r) => setTimeout(r, o.intervalMs ?? 200));
      if ((await exchange(true)) === 'timeout') result.rejects['timeout'] = (result.rejects['timeout'] ?? 0) + 1;
      if (Object.keys(result.rejects).some((k) => k.startsWith('kiss') || k.startsWith('test5'))) break;
    }
    // chrony and ntpd drop a request whose MAC they cannot verify, so a wrong
    // key looks like loss. One unauthenticated probe tells the two apart.
    if (key && result.samples.length === 0 && Object.keys(result.rejects).every((k) => k === 'timeout')) {
      if ((await exchange(false)) === 'done' && result.samples.length > 0) {
        result.samples.length = 0;
        result.best = null;
        result.rejects[`test5-auth (answered without a key, not with key ${o.keyId}: wrong or unknown key)`] = 1;
      }
    }
    result.ok = result.samples.length > 0;
    if (!result.ok) {
      const reasons = Object.entries(result.rejects).map(([k, v]) => `${k} x${v}`);
      result.error = reasons.length ? reasons.join(', ') : 'no response';
    }
  } catch (e) {
    result.error = (e as Error).message;
  } finally {
    sockets?.close();
  }
  return result;
}
