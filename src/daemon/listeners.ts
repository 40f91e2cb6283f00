// The node's NTP listeners: one native server per [ntp] listen address,
// bound when possible and retried when the election asks this node to
// serve. All of them get the same access rules, keys and served state.
import type { ClockModel } from '../clock/driver.js';
import type { KeyRing } from '../ntp/auth.js';
import type { ServerState } from '../ntp/wire.js';
import { NtpServer, SERVER_COUNTERS } from '../native/server.js';
import type { Config } from './config.js';
import { formatHostPort, type HostPort } from './hostport.js';
import type { Logger } from './log.js';
import { errorCode } from '../util/errors.js';

interface Listener {
  at: HostPort;
  server: NtpServer | null;
  error: string | null;
}

export class NtpListeners {
  readonly #all: Listener[];
  readonly #log: Logger;

  constructor(listen: HostPort[], log: Logger) {
    this.#all = listen.map((at) => ({ at, server: null, error: null }));
    this.#log = log;
  }

  /** Binds every listener not yet bound (logging each failure once); true when all are bound. */
  bind(): boolean {
    for (const l of this.#all) {
      if (l.server) continue;
      const on = formatHostPort(l.at);
      try {
        l.server = new NtpServer({ address: l.at.host, port: l.at.port, ipv6Only: true });
        l.error = null;
        this.#log.info('serving NTP', { on });
      } catch (e) {
        const why = errorCode(e);
        if (l.error !== why) this.#log.warn('cannot serve NTP', { on, error: why });
        l.error = why;
      }
    }
    return this.#all.every((l) => l.server !== null);
  }

  /** Access rules, rate limit and keys, on every bound server (again after each bind). */
  configure(ntp: Config['ntp'], keys: KeyRing): void {
    for (const { server } of this.#all) {
      if (!server) continue;
      server.setAccess({ allow: ntp.allow, deny: ntp.deny, denyAction: ntp.denyAction });
      server.setRateLimit(ntp.rateLimit);
      server.setKeys(keys, { requireAuth: ntp.requireAuth });
    }
  }

  setState(state: ServerState, model: ClockModel): void {
    for (const { server } of this.#all) server?.setState(state, model);
  }

  /** The last bind error, for logs. */
  get error(): string | null {
    return this.#all.find((l) => l.error)?.error ?? null;
  }

  /** Counters summed over the servers. */
  counters(): Record<string, number> {
    const out: Record<string, number> = Object.fromEntries(SERVER_COUNTERS.map((k) => [k, 0]));
    for (const { server } of this.#all) {
      if (!server) continue;
      const c = server.counters();
      for (const k of SERVER_COUNTERS) out[k]! += Number(c[k]);
    }
    return out;
  }

  describe(): { address: string; bound: boolean }[] {
    return this.#all.map((l) => ({ address: formatHostPort(l.at), bound: l.server !== null }));
  }

  /** A listen address that is not a wildcard, if any. */
  specificAddress(): string | null {
    return this.#all.find((l) => l.at.host !== '0.0.0.0' && l.at.host !== '::')?.at.host ?? null;
  }

  close(): void {
    for (const l of this.#all) {
      l.server?.close();
      l.server = null;
    }
  }
}
