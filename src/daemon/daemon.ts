// The daemon: one ClusterNode driven over real sockets. The election runs on
// a UdpEndpoint on the cluster port; NTP is served by the native responder on
// every [ntp] listen address with the state the node's role gives it; the
// node's own NTP client polls the elected server (or the upstreams) from its
// own endpoint with kernel TX/RX stamps. Timers, the clock driver, the state
// file, the control socket and the metrics endpoint live here and nowhere
// else (shared/STYLE.md: pure cores, thin shell).
import { randomFillSync } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import type http from 'node:http';
import net from 'node:net';
import os from 'node:os';

import { isLeapSecond, JumpDetector } from '../clock/jump.js';
import { hasCapSysTime, nativeKernel } from '../clock/kernel.js';
import { SystemClock } from '../clock/system.js';
import { VirtualClock } from '../clock/virtual.js';
import type { ClockDriver } from '../clock/driver.js';
import { ClusterNode, type NodeAction, type NodeEvent, type NodeInput, type Now } from '../cluster/node.js';
import { Role } from '../election/wire.js';
import type { KeyRing } from '../ntp/auth.js';
import { buildBroadcast, UNSYNCHRONISED, type ServerState } from '../ntp/wire.js';
import { readKernelClock, realtimeNs } from '../native/clock.js';
import { notifySocketSend } from '../native/notify.js';
import { UdpEndpoint, type RecordBatch } from '../native/udp.js';
import type { SourceConfig } from '../sync/source.js';
import { ClocktowerError, ConfigError, errorCode } from '../util/errors.js';
import { cryptoRng, type Rng } from '../util/rng.js';
import type { Config } from './config.js';
import { serveControl } from './control.js';
import { ClientSockets } from './client-socket.js';
import { logEvent } from './event-log.js';
import { formatHostPort } from './hostport.js';
import { clusterKey, loadKeys } from './keyfile.js';
import { sivAead } from '../native/nts-aead.js';
import { NtpListeners } from './listeners.js';
import { NtsService } from './nts-service.js';
import { isWildcard, joinClusterGroup } from './netif.js';
import type { Logger } from './log.js';
import { serveMetrics } from './metrics.js';
import { lockStateDir, readState, writeState } from './state.js';
import { assembleStatus, statusLine, type Status } from './status.js';
import { resolveUpstreams } from './upstreams.js';

export interface DaemonOptions {
  log: Logger;
  rng?: Rng;
  /** Every node event, as it happens (the demo prints role changes from here). */
  onEvent?: (e: NodeEvent) => void;
}

/** How often bursts of authentication failures are summarised in the log. */
const AUTH_REPORT_NS = 10_000_000_000n;

export class Daemon {
  readonly cfg: Config;
  readonly clock: ClockDriver;
  readonly node: ClusterNode;
  readonly #log: Logger;
  readonly #rng: Rng;
  readonly #onEvent: ((e: NodeEvent) => void) | undefined;
  readonly #t0 = process.hrtime.bigint();
  readonly #listeners: NtpListeners;
  readonly #nts: NtsService;
  /** The clock was set from an NTS source once (saved): under the first-boot rule, certificate dates count from then. */
  #ntsTimeSet: boolean;
  readonly #releaseLock: () => void;
  #ntpKeys: KeyRing;
  #cluster: UdpEndpoint | null = null;
  /** Receives the discovery group when the cluster socket is bound to one address (which does not see group traffic). */
  #clusterGroup: UdpEndpoint | null = null;
  readonly #client = new ClientSockets({
    onSent: (sourceId, sysNs) => this.#input({ type: 'ntp-sent', sourceId, t1Ns: this.clock.cookedNs(sysNs) }),
    onReply: (b) => this.#onNtpReply(b),
  });
  #timer: NodeJS.Timeout | null = null;
  #slewTimer: NodeJS.Timeout | null = null;
  #houseTimer: NodeJS.Timeout | null = null;
  #broadcastTimer: NodeJS.Timeout | null = null;
  readonly #jumps = new JumpDetector();
  #broadcastsSent = 0;
  /** This host's addresses: its own broadcasts come back to it. */
  readonly #localAddresses = new Set(Object.values(os.networkInterfaces()).flatMap((a) => (a ?? []).map((x) => x.address)));
  #state: ServerState = UNSYNCHRONISED;
  #control: net.Server | null = null;
  #metrics: http.Server | null = null;
  #stopped = false;
  #authSeen = { ntp: 0n, election: 0 };
  /** The service manager's socket (Type=notify), until a send to it fails. */
  #notifySocket = process.env['NOTIFY_SOCKET'] || null;

  /** Takes the state dir, binds the sockets and starts the node. Throws ClocktowerError (or ConfigError) on a fatal problem. */
  static async start(cfg: Config, opts: DaemonOptions): Promise<Daemon> {
    const release = lockStateDir(cfg.state.dir);
    let d: Daemon | null = null;
    try {
      const upstream = await resolveUpstreams(cfg, opts.log);
      d = new Daemon(cfg, opts, release, upstream);
      await d.#startServices();
      return d;
    } catch (e) {
      // Whatever was bound is closed again; the lock goes with it.
      if (d) await d.#close();
      else release();
      throw e;
    }
  }

  private constructor(cfg: Config, opts: DaemonOptions, release: () => void, upstream: SourceConfig[]) {
    this.cfg = cfg;
    this.#log = opts.log;
    this.#rng = opts.rng ?? cryptoRng((b) => randomFillSync(b));
    this.#onEvent = opts.onEvent;
    this.#releaseLock = release;
    this.#ntpKeys = loadKeys(cfg.ntp.keys);
    const key = clusterKey(cfg);

    const saved = readState(cfg.state.dir);
    if (saved.problem) this.#log.warn(saved.problem);
    const floorNs = saved.state?.floorNs ?? 0n;
    const freqPpm = saved.state?.freqPpm ?? 0;
    this.#ntsTimeSet = saved.state?.ntsTimeSet === true;

    const sys = realtimeNs();
    if (cfg.clock.mode === 'system') {
      if (!hasCapSysTime())
        throw new ClocktowerError('EPERM', 'clock mode "system" needs CAP_SYS_TIME (run as root or grant the capability, see contrib/clocktower.service)');
      // The kernel starts from the saved drift, whatever a killed run left in it.
      this.clock = new SystemClock({ kernel: nativeKernel(), freqPpm });
    } else {
      this.clock = new VirtualClock({ atSysNs: sys, ...(cfg.clock.startNs !== null ? { startNs: cfg.clock.startNs } : {}), freqPpm });
    }

    this.#listeners = new NtpListeners(cfg.ntp.listen, this.#log, {
      onSlowPath: (b) => this.#onNtpSlowPath(b),
      broadcastTo: cfg.ntp.broadcast?.to ?? null,
      broadcastClient: cfg.ntp.broadcastClient,
      threads: cfg.ntp.threads,
    });
    this.#nts = new NtsService(cfg, this.#log, () => this.#configureServers());
    const bk = cfg.ntp.broadcast?.keyId;
    if (bk != null && !this.#ntpKeys.has(bk))
      throw new ConfigError(cfg.file ?? '(embedded)', 0, 'ntp.broadcast.key', `no key ${bk} in ${cfg.ntp.keys ?? 'ntp.keys (not set)'}`);
    this.node = new ClusterNode({
      election: {
        id: cfg.node.id,
        priority: cfg.node.priority,
        peers: cfg.cluster.peers.map((p) => ({ address: p.host, port: p.port })),
        ntpPort: cfg.ntp.listen[0]!.port,
        localStratum: cfg.clock.localStratum,
        heartbeatNs: cfg.cluster.heartbeatNs,
        preempt: cfg.cluster.preempt,
        multicast: cfg.cluster.multicast !== null,
        floorNs,
        ...(key ? { key } : {}),
      },
      sync: { keys: this.#ntpKeys, stepThresholdNs: cfg.clock.stepThresholdNs, initialFreqPpm: freqPpm, localPrecisionLog2: -20, aead: sivAead },
      upstream,
      leaderInterleaved: cfg.cluster.interleaved,
      leaderNts: cfg.ntp.nts && cfg.nts ? { port: cfg.nts.listen.port, serverName: cfg.nts.serverName } : null,
      trusted: cfg.clock.trusted,
      allowBackwards: cfg.clock.allowBackwards,
      persistIntervalNs: cfg.state.saveIntervalNs,
      broadcastClient: cfg.ntp.broadcastClient ? { requireAuth: cfg.ntp.requireAuth } : null,
    });
    if (saved.state) this.#log.info('state loaded', { floor: new Date(Number(floorNs / 1_000_000n)).toISOString(), freq_ppm: freqPpm });
  }

  async #startServices(): Promise<void> {
    const c = this.cfg.cluster.listen;
    try {
      this.#cluster = new UdpEndpoint({ address: c.host, port: c.port, ipv6Only: false }, { onBatch: (b) => this.#onCluster(b) });
    } catch (e) {
      throw new ClocktowerError((e as { code?: string }).code ?? 'ERR_BIND', `cannot listen for the cluster on ${formatHostPort(c)}: ${(e as Error).message}`);
    }
    if (this.cfg.cluster.multicast)
      this.#clusterGroup = joinClusterGroup(this.#cluster, c.host, this.cfg.cluster.multicast, (b) => this.#onCluster(b), this.#log);
    this.#bindNtp();
    this.#control = await serveControl(this.cfg.control.socket, () => this.status());
    const m = this.cfg.metrics.listen;
    if (m) this.#metrics = await serveMetrics(m.host, m.port, () => this.status());
    this.#log.info('started', {
      id: this.cfg.node.id,
      priority: this.cfg.node.priority,
      clock: this.cfg.clock.mode,
      node_time: new Date(Number(this.clock.nodeNs(realtimeNs()) / 1_000_000n)).toISOString(),
      ntp: this.cfg.ntp.listen.map(formatHostPort).join(','),
      cluster: formatHostPort(c),
    });
    this.#exec(this.node.start(this.#now(), this.#rng));
    this.#houseTimer = setInterval(() => this.#housekeeping(), Number(AUTH_REPORT_NS / 1_000_000n));
    this.#notify(`READY=1\nSTATUS=${statusLine(this.status())}`);
    const b = this.cfg.ntp.broadcast;
    if (b) this.#broadcastTimer = setInterval(() => this.#broadcast(), 2 ** b.intervalLog2 * 1000);
  }

  /** NTP broadcast mode: the elected server sends a mode-5 packet each interval (one per LAN, not one per board). */
  #broadcast(): void {
    const b = this.cfg.ntp.broadcast;
    if (!b || this.#stopped || this.node.role !== Role.Server) return;
    const key = b.keyId === null ? undefined : this.#ntpKeys.get(b.keyId);
    const bytes = buildBroadcast(this.#state, this.clock.cookedNs(realtimeNs()), b.intervalLog2, key);
    if (!bytes) return;
    try {
      if (this.#listeners.send(bytes, b.to)) this.#broadcastsSent++;
    } catch (e) {
      this.#log.debug('broadcast send failed', { to: formatHostPort(b.to), error: errorCode(e) });
    }
  }

  /** Datagrams the native server passed up: broadcasts from other servers (mode 5); our own are skipped. */
  #onNtpSlowPath(batch: RecordBatch): void {
    if (this.#stopped || !this.cfg.ntp.broadcastClient) return;
    const sys = this.#sysNs();
    const now = { monoNs: this.#monoNs(), nodeNs: this.clock.cookedNs(sys) };
    for (let i = 0; i < batch.count; i++) {
      const bytes = batch.data(i);
      if (batch.truncated(i) || bytes.length < 48 || (bytes[0]! & 7) !== 5) continue;
      const p = batch.peer(i);
      if (this.#localAddresses.has(p.address)) continue;
      this.#exec(
        this.node.handle(
          { type: 'ntp-broadcast', bytes: Uint8Array.from(bytes), from: { address: p.address, port: p.port }, t4Ns: this.clock.cookedNs(batch.rxNs(i)) },
          now,
          this.#rng,
        ),
      );
    }
  }

  // ---- time ------------------------------------------------------------------

  #monoNs(): bigint {
    return process.hrtime.bigint() - this.#t0;
  }

  #now(): Now {
    return { monoNs: this.#monoNs(), nodeNs: this.clock.cookedNs(this.#sysNs()) };
  }

  /**
   * System REALTIME, read where every event starts: if someone stepped the
   * machine's clock since the last read, a virtual clock absorbs the step
   * before anything is measured with it (else the next sample would carry
   * the step as an offset). Under the system driver the step is reported.
   */
  #sysNs(): bigint {
    const sys = realtimeNs();
    const jump = this.#jumps.observe(sys, process.hrtime.bigint());
    if (jump !== null) {
      const jumpMs = (Number(jump) / 1e6).toFixed(1);
      if (this.clock instanceof VirtualClock) {
        this.clock.absorbSystemJump(jump);
        this.#pushState();
        this.#log.warn('the system clock was stepped; the virtual clock carries on', { jump_ms: jumpMs });
      } else {
        // The served clock moved: interleaved TX stamps from before are dropped.
        if (this.clock instanceof SystemClock) this.clock.noteExternalStep();
        this.#pushState();
        if (isLeapSecond(jump, readKernelClock().state)) this.#log.info('leap second: the kernel repeated a second', { jump_ms: jumpMs });
        else this.#log.warn('the system clock was stepped by something else', { jump_ms: jumpMs });
      }
    }
    return sys;
  }

  /** A kernel RX stamp (REALTIME) as monotonic time since start: when it arrived, however late it is read. */
  #rxMono(rxSysNs: bigint, now: Now, sysNs: bigint): bigint {
    const ago = sysNs - rxSysNs;
    return ago > 0n && ago < now.monoNs ? now.monoNs - ago : now.monoNs;
  }

  // ---- sockets ---------------------------------------------------------------------

  /** Binds the NTP listeners not yet bound; true when all are. */
  #bindNtp(): boolean {
    const ok = this.#listeners.bind();
    this.#configureServers();
    return ok;
  }

  #configureServers(): void {
    this.#listeners.configure(this.cfg.ntp, this.#ntpKeys, this.#nts.masterKeys);
    this.#pushState();
  }

  #onCluster(batch: RecordBatch): void {
    if (this.#stopped) return;
    const sys = this.#sysNs();
    const now = { monoNs: this.#monoNs(), nodeNs: this.clock.cookedNs(sys) };
    for (let i = 0; i < batch.count; i++) {
      if (batch.truncated(i)) continue;
      const p = batch.peer(i);
      // A dual-stack socket sees IPv4 peers as ::ffff:a.b.c.d; peers are configured and answered as IPv4.
      if (p.address.startsWith('::ffff:') && net.isIPv4(p.address.slice(7))) p.address = p.address.slice(7);
      const bytes = Uint8Array.from(batch.data(i));
      this.#exec(
        this.node.handle(
          { type: 'cluster', bytes, from: { address: p.address, port: p.port }, rxMonoNs: this.#rxMono(batch.rxNs(i), now, sys) },
          now,
          this.#rng,
        ),
      );
    }
  }

  #onNtpReply(batch: RecordBatch): void {
    if (this.#stopped) return;
    const now = this.#now();
    for (let i = 0; i < batch.count; i++) {
      const p = batch.peer(i);
      const t4Ns = this.clock.cookedNs(batch.rxNs(i));
      this.#exec(
        this.node.handle({ type: 'ntp-reply', bytes: Uint8Array.from(batch.data(i)), from: { address: p.address, port: p.port }, t4Ns }, now, this.#rng),
      );
    }
  }

  /** An input that arrives on its own (not from a socket batch), read at the current instant. */
  #input(input: NodeInput): void {
    if (!this.#stopped) this.#exec(this.node.handle(input, this.#now(), this.#rng));
  }

  // ---- carrying out the node's actions -----------------------------------------------

  #exec(actions: NodeAction[]): void {
    let dirty = false;
    for (const a of actions) {
      switch (a.type) {
        case 'send-cluster': {
          if (!this.#cluster || this.#cluster.closed) break;
          const to =
            a.to === 'multicast'
              ? this.cfg.cluster.multicast
                ? { address: this.cfg.cluster.multicast.host, port: this.cfg.cluster.multicast.port }
                : null
              : a.to;
          if (!to) break;
          try {
            this.#cluster.send(a.bytes, to.port, to.address);
          } catch (e) {
            this.#log.debug('cluster send failed', { to: to.address, error: errorCode(e) });
          }
          break;
        }
        case 'send-ntp': {
          try {
            // The departure time comes back as an 'ntp-sent' input: now, then the kernel's TX stamp.
            this.#client.send(a.sourceId, a.bytes, a.address, a.port);
          } catch (e) {
            this.#log.debug('ntp send failed', { to: a.address, error: errorCode(e) });
          }
          break;
        }
        case 'clock':
          try {
            this.clock.apply(a.cmd, realtimeNs());
            if (a.cmd.type === 'step' && this.clock.mode === 'system') this.#jumps.reset();
          } catch (e) {
            this.#log.error('clock command failed', { cmd: a.cmd.type, error: errorCode(e) });
          }
          dirty = true;
          break;
        case 'serve':
          if (a.on) {
            const ok = this.#bindNtp();
            // Reported on the next turn: the node is not re-entered from its own action list.
            setImmediate(() => this.#input({ type: 'serve-result', ok }));
          }
          void this.#nts.serve(a.on);
          break;
        case 'nts-ke': {
          // The first-boot rule: certificate dates do not count until the clock has been set from NTS once.
          const ignoreDates = this.cfg.nts?.certTimeCheckAfter === 'nts-sync' && !this.#ntsTimeSet;
          const { sourceId } = a;
          this.#nts.fetch(a.address, a.port, a.serverName, ignoreDates).then(
            (session) => this.#input({ type: 'nts-session', sourceId, result: { session } }),
            (e: unknown) => this.#input({ type: 'nts-session', sourceId, result: { error: (e as Error).message } }),
          );
          break;
        }
        case 'server-state':
          this.#state = a.state;
          dirty = true;
          break;
        case 'timer':
          this.#arm(a.atMonoNs);
          break;
        case 'persist':
          try {
            writeState(this.cfg.state.dir, { floorNs: a.floorNs, freqPpm: a.freqPpm, ntsTimeSet: this.#ntsTimeSet });
          } catch (e) {
            this.#log.warn('cannot save state', { dir: this.cfg.state.dir, error: errorCode(e) });
          }
          break;
        case 'event':
          logEvent(this.#log, a.event, {
            nodeId: this.cfg.node.id,
            leaderId: () => this.node.election.leader?.id,
            listenerError: () => this.#listeners.error,
            sampleClock: (sourceId) => {
              const sysNs = realtimeNs();
              return { sysNs, nodeNs: this.clock.cookedNs(sysNs), t1KernelLagNs: this.#client.kernelLagNs(sourceId) };
            },
          });
          this.#onEvent?.(a.event);
          if (a.event.kind === 'synced' && a.event.synced) this.#noteNtsSync(a.event.sourceId);
          if (a.event.kind === 'role' || a.event.kind === 'leader' || a.event.kind === 'synced') setImmediate(() => this.#notifyStatus());
          break;
      }
    }
    if (dirty) this.#pushState();
  }

  /** Synchronised to an NTS source for the first time: from now on certificate dates count (saved at once). */
  #noteNtsSync(sourceId: string | null): void {
    if (this.#ntsTimeSet || sourceId === null || !this.node.sync.source(sourceId)?.nts) return;
    this.#ntsTimeSet = true;
    try {
      writeState(this.cfg.state.dir, { floorNs: this.node.floorNs, freqPpm: this.node.sync.discipline.freqPpm, ntsTimeSet: true });
    } catch (e) {
      this.#log.warn('cannot save state', { dir: this.cfg.state.dir, error: errorCode(e) });
    }
    if (this.cfg.nts?.certTimeCheckAfter === 'nts-sync') this.#log.info('nts: the clock was set from an NTS source; certificate dates count from now on');
  }

  #arm(atMonoNs: bigint): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#stopped) return;
    const ms = Math.max(0, Math.ceil(Number(atMonoNs - this.#monoNs()) / 1e6));
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#input({ type: 'timer' });
    }, ms);
  }

  /** Hands the served state and the clock's current linear piece to every server. */
  #pushState(): void {
    let sys = realtimeNs();
    const due = this.clock.slewEndSysNs();
    if (due !== null && sys >= due) {
      this.clock.settle(sys);
      sys = realtimeNs();
    }
    const model = this.clock.model(sys);
    this.#listeners.setState(this.#state, model);
    if (this.#slewTimer) clearTimeout(this.#slewTimer);
    this.#slewTimer = null;
    const end = this.clock.slewEndSysNs();
    if (end !== null && !this.#stopped) {
      // The model changes when a slew ends: hand the next piece over then.
      this.#slewTimer = setTimeout(() => this.#pushState(), Math.max(1, Math.ceil(Number(end - sys) / 1e6)));
    }
  }

  /** sd_notify(3): systemd's `Type=notify` waits for READY=1 and shows STATUS= in `systemctl status`. */
  #notify(message: string): void {
    if (this.#notifySocket === null) return;
    try {
      notifySocketSend(this.#notifySocket, message);
    } catch (e) {
      this.#log.warn('cannot notify the service manager; not trying again', { socket: this.#notifySocket, error: errorCode(e) });
      this.#notifySocket = null;
    }
  }

  #notifyStatus(): void {
    if (!this.#stopped) this.#notify(`STATUS=${statusLine(this.status())}`);
  }

  /** Summarises authentication failures since the last look (one line per burst, none per packet); refreshes STATUS=. */
  #housekeeping(): void {
    this.#notifyStatus();
    const c = this.#listeners.counters();
    const ntp = BigInt(c['dropBadMac'] ?? 0) + BigInt(c['dropUnauthenticated'] ?? 0);
    const el = this.node.election.counters.dropBadMac + this.node.election.counters.dropUnauthenticated;
    if (ntp > this.#authSeen.ntp || el > this.#authSeen.election) {
      this.#log.warn('authentication failures', {
        ntp: ntp - this.#authSeen.ntp,
        election: el - this.#authSeen.election,
        window_s: Number(AUTH_REPORT_NS / 1_000_000_000n),
      });
    }
    this.#authSeen = { ntp, election: el };
  }

  // ---- status ---------------------------------------------------------------------

  status(): Status {
    return assembleStatus({
      cfg: this.cfg,
      node: this.node,
      clock: this.clock,
      served: this.#state,
      sysNs: realtimeNs(),
      monoNs: this.#monoNs(),
      ownAddress: this.#ownAddress(),
      ntp: { listen: this.#listeners.describe(), counters: this.#listeners.counters(), nts: this.#nts.status() },
      broadcastsSent: this.#broadcastsSent,
    });
  }

  /** The address peers reach this node at, as well as a wildcard bind lets us tell. */
  #ownAddress(): string {
    const c = this.cfg.cluster.listen.host;
    return !isWildcard(c) ? c : (this.#listeners.specificAddress() ?? c);
  }

  // ---- reload and stop -------------------------------------------------------------------

  /** SIGHUP: takes what can change in place (log level, NTP access, rate limit, keys); names what needs a restart. */
  reload(next: Config): void {
    const keep = (c: Config) =>
      JSON.stringify(
        { ...c, log: null, ntp: { ...c.ntp, allow: null, deny: null, denyAction: null, rateLimit: null, keys: null, requireAuth: null } },
        (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
      );
    const restart = keep(next) !== keep(this.cfg);
    this.#ntpKeys = loadKeys(next.ntp.keys);
    Object.assign(this.cfg.ntp, {
      allow: next.ntp.allow,
      deny: next.ntp.deny,
      denyAction: next.ntp.denyAction,
      rateLimit: next.ntp.rateLimit,
      keys: next.ntp.keys,
      requireAuth: next.ntp.requireAuth,
    });
    this.cfg.log.level = next.log.level;
    this.#log.level = next.log.level;
    this.#configureServers();
    this.#log.info('reloaded', { ntp_access: 'applied', restart_needed_for_other_changes: restart });
  }

  /** SIGTERM/SIGINT: save the floor, tell the peers, close everything. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#notify('STOPPING=1');
    this.#exec(this.node.stop(this.#now()));
    await this.#close();
    this.#log.info('stopped', { id: this.cfg.node.id });
  }

  /** Closes whatever is open (also after a failed start) and releases the lock. */
  async #close(): Promise<void> {
    this.#stopped = true;
    try {
      this.clock.release(realtimeNs());
    } catch (e) {
      this.#log.error('could not end the slew in progress', { error: errorCode(e) });
    }
    for (const t of [this.#timer, this.#slewTimer]) if (t) clearTimeout(t);
    for (const t of [this.#houseTimer, this.#broadcastTimer]) if (t) clearInterval(t);
    this.#cluster?.close();
    this.#clusterGroup?.close();
    this.#client.close();
    await this.#nts.close();
    await this.#listeners.close();
    await Promise.all([this.#control, this.#metrics].map((s) => (s ? new Promise((r) => s.close(r)) : null)));
    try {
      unlinkSync(this.cfg.control.socket);
    } catch {
      // closing the server may already have removed it
    }
    this.#releaseLock();
  }
}
