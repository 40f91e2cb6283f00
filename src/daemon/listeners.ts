// The node's NTP listeners: one native server per [ntp] listen address,
// bound when possible and retried when the election asks this node to
// serve. All of them get the same access rules, keys and served state.
import net from 'node:net';

import type { ClockModel } from '../clock/driver.js';
import type { KeyRing } from '../ntp/auth.js';
import type { MasterKey } from '../ntp/nts.js';
import type { ServerState } from '../ntp/wire.js';
import { NtpServer, SERVER_COUNTERS } from '../native/server.js';
import { ServerThreads } from '../native/server-threads.js';
import { isMulticast, type RecordBatch } from '../native/udp.js';
import type { Config } from './config.js';
import { formatHostPort, type HostPort } from './hostport.js';
import type { Logger } from './log.js';
import { errorCode } from '../util/errors.js';
import { isWildcard, multicastInterfaces } from './netif.js';

/** IANA's NTP multicast group, which broadcast clients also listen on (as ntpd's multicastclient). */
export const NTP_MULTICAST_GROUP = '224.0.1.1';

export interface ListenerOptions {
  /** Datagrams the native server does not answer (broadcasts): read them before returning. */
  onSlowPath?: (batch: RecordBatch) => void;
  /** Where this node's broadcasts go, if it sends them. */
  broadcastTo?: HostPort | null;
  /** Listen for broadcasts: wildcard IPv4 listeners join NTP_MULTICAST_GROUP. */
  broadcastClient?: boolean;
  /** Extra server threads per listener (SO_REUSEPORT); 0 or absent: none. */
  threads?: number;
}

interface Listener {
  at: HostPort;
  server: NtpServer | null;
  threads: ServerThreads | null;
  error: string | null;
}

export class NtpListeners {
  readonly #all: Listener[];
  readonly #log: Logger;
  readonly #opts: ListenerOptions;

  constructor(listen: HostPort[], log: Logger, opts: ListenerOptions = {}) {
    this.#all = listen.map((at) => ({ at, server: null, threads: null, error: null }));
    this.#log = log;
    this.#opts = opts;
  }

  /** Binds every listener not yet bound (logging each failure once); true when all are bound. */
  bind(): boolean {
    for (const l of this.#all) {
      if (l.server) continue;
      const on = formatHostPort(l.at);
      try {
        const threads = this.#opts.threads ?? 0;
        const handlers = this.#opts.onSlowPath ? { onBatch: this.#opts.onSlowPath } : {};
        l.server = new NtpServer({ address: l.at.host, port: l.at.port, ipv6Only: true, reusePort: threads > 0 }, handlers);
        l.error = null;
        this.#log.info('serving NTP', { on, ...(threads > 0 ? { threads: threads + 1 } : {}) });
        if (threads > 0) this.#startThreads(l, threads);
        this.#broadcastSetup(l.at, l.server);
      } catch (e) {
        const why = errorCode(e);
        if (l.error !== why) this.#log.warn('cannot serve NTP', { on, error: why });
        l.error = why;
      }
    }
    return this.#all.every((l) => l.server !== null);
  }

  /** Worker threads on the listener's port; if one cannot start, the main thread's socket serves alone. */
  #startThreads(l: Listener, threads: number): void {
    const pool = new ServerThreads({
      address: l.at.host,
      port: l.server!.address().port,
      ipv6Only: true,
      threads,
      ...(this.#opts.onSlowPath ? { onSlowPath: this.#opts.onSlowPath } : {}),
      onError: (e) => this.#log.warn('a server thread stopped; the others serve on', { on: formatHostPort(l.at), error: errorCode(e) }),
    });
    l.threads = pool;
    pool.ready.catch((e: unknown) => {
      this.#log.warn('server threads failed; serving from the main thread only', { on: formatHostPort(l.at), error: errorCode(e) });
      if (l.threads === pool) l.threads = null;
      void pool.close();
    });
  }

  /** Socket options for broadcast mode; a failure is logged, the listener still serves. */
  #broadcastSetup(at: HostPort, server: NtpServer): void {
    if (server.family !== 4) return;
    const to = this.#opts.broadcastTo;
    const ifaces = multicastInterfaces(at.host);
    try {
      if (to && isMulticast(to.host)) {
        if (ifaces[0]) server.setMulticastSend({ address: ifaces[0], hops: 1, loop: false });
      } else if (to) {
        server.setBroadcast(true);
      }
      if (this.#opts.broadcastClient && isWildcard(at.host)) for (const address of ifaces) server.joinGroup(NTP_MULTICAST_GROUP, { address });
    } catch (e) {
      this.#log.warn('broadcast mode setup failed', { on: formatHostPort(at), error: errorCode(e) });
    }
  }

  /** Sends from the first bound listener of the destination's family (so from the NTP port); false when there is none. */
  send(bytes: Uint8Array, to: HostPort): boolean {
    const family = net.isIPv6(to.host.split('%')[0]!) ? 6 : 4;
    const server = this.#all.find((l) => l.server && l.server.family === family)?.server;
    if (!server) return false;
    server.send(bytes, to.port, to.host);
    return true;
  }

  /** Access rules, rate limit, keys and NTS master keys, on every bound server (again after each bind). */
  configure(ntp: Config['ntp'], keys: KeyRing, ntsKeys: readonly MasterKey[]): void {
    for (const target of this.#targets()) {
      target.setAccess({ allow: ntp.allow, deny: ntp.deny, denyAction: ntp.denyAction });
      target.setRateLimit(ntp.rateLimit);
      target.setKeys(keys, { requireAuth: ntp.requireAuth });
      target.setInterleaved(ntp.interleavedEntries);
      target.setNtsKeys(ntsKeys);
    }
  }

  setState(state: ServerState, model: ClockModel): void {
    for (const target of this.#targets()) target.setState(state, model);
  }

  /** Every bound server and every thread pool: what the setters reach. */
  *#targets(): Iterable<NtpServer | ServerThreads> {
    for (const l of this.#all) {
      if (l.server) yield l.server;
      if (l.threads) yield l.threads;
    }
  }

  /** The last bind error, for logs. */
  get error(): string | null {
    return this.#all.find((l) => l.error)?.error ?? null;
  }

  /** Counters summed over the servers. */
  counters(): Record<string, number> {
    const out: Record<string, number> = Object.fromEntries(SERVER_COUNTERS.map((k) => [k, 0]));
    for (const target of this.#targets()) {
      const c = target.counters();
      for (const k of SERVER_COUNTERS) out[k]! += Number(c[k]);
    }
    return out;
  }

  describe(): { address: string; bound: boolean; threads: number }[] {
    return this.#all.map((l) => ({ address: formatHostPort(l.at), bound: l.server !== null, threads: l.threads?.size ?? 0 }));
  }

  /** A listen address that is not a wildcard, if any. */
  specificAddress(): string | null {
    return this.#all.find((l) => !isWildcard(l.at.host))?.at.host ?? null;
  }

  async close(): Promise<void> {
    const pools: Promise<void>[] = [];
    for (const l of this.#all) {
      l.server?.close();
      if (l.threads) pools.push(l.threads.close());
      l.server = null;
      l.threads = null;
    }
    await Promise.all(pools);
  }
}
