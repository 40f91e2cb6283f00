// Extra server threads for boxes with many cores (issue 4 item 7): each
// worker thread owns one SO_REUSEPORT socket on the same address and port
// as the main thread's NtpServer, with its own batch loop, so the kernel
// spreads clients over the threads by flow hash. The main thread stays the
// only writer of state: every setter is posted to each worker in order.
// Counters live in one SharedArrayBuffer block per worker, read here with
// no message per read. Datagrams a worker does not answer (the slow path)
// are copied and posted back as a RecordBatch.
//
// Per-client rate limiting is per thread: a client that spreads its
// requests over several source ports can reach several tables.
import { Worker } from 'node:worker_threads';

import type { ClockModel } from '../clock/driver.js';
import type { KeyRing } from '../ntp/auth.js';
import type { MasterKey } from '../ntp/nts.js';
import type { ServerState } from '../ntp/wire.js';
import { ClocktowerError } from '../util/errors.js';
import { checkNtsKeys, COUNTER_BYTES, MAX_INTERLEAVED_ENTRIES, SERVER_COUNTERS, type AccessOptions, type RateLimitOptions, type ServerCounter } from './server.js';
import { RecordBatch } from './udp.js';

export interface ServerThreadsOptions {
  address: string;
  /** The port the main thread's NtpServer is bound to (it must have been created with reusePort). */
  port: number;
  ipv6Only?: boolean;
  threads: number;
  /** Datagrams a worker did not answer, as a batch valid during the call. */
  onSlowPath?: (batch: RecordBatch) => void;
  /** A worker that failed after starting (its socket is gone; the others and the main thread serve on). */
  onError?: (e: Error) => void;
}

/** Messages from the main thread to a worker. */
export type ToWorker =
  | { op: 'state'; state: ServerState; clock: ClockModel }
  | { op: 'access'; access: AccessOptions }
  | { op: 'rateLimit'; rateLimit: RateLimitOptions | null }
  | { op: 'keys'; keys: KeyRing; requireAuth: boolean }
  | { op: 'ntsKeys'; keys: MasterKey[] }
  | { op: 'interleaved'; entries: number }
  | { op: 'ping'; id: number }
  | { op: 'close' };

/** Messages from a worker to the main thread. */
export type FromWorker =
  | { op: 'ready' }
  | { op: 'error'; code: string; message: string }
  | { op: 'pong'; id: number }
  | { op: 'slow'; slab: ArrayBuffer; stride: number; count: number };

export interface WorkerData {
  address: string;
  port: number;
  ipv6Only: boolean;
  counters: SharedArrayBuffer;
}

/** Source for an eval'd worker that loads server-thread (TypeScript through tsx when run from source). */
function workerSource(): string {
  const fromSource = import.meta.url.endsWith('.ts');
  const url = JSON.stringify(new URL(`./server-thread.${fromSource ? 'ts' : 'js'}`, import.meta.url).href);
  return fromSource ? `import('tsx/esm/api').then((m) => { m.register(); return import(${url}); })` : `import(${url})`;
}

export class ServerThreads {
  readonly #workers: Worker[] = [];
  readonly #counters: BigUint64Array[] = [];
  readonly #ready: Promise<void>;
  #closed = false;
  #pings = 0;
  readonly #pongs = new Map<number, () => void>();

  /** Starts the workers; `ready` settles when each has bound its socket (or one failed). */
  constructor(opts: ServerThreadsOptions) {
    if (!Number.isInteger(opts.threads) || opts.threads < 1 || opts.threads > 256) throw new RangeError(`threads ${opts.threads}: 1..256`);
    if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) throw new RangeError(`port ${opts.port}: the bound port, 1..65535`);
    const started: Promise<void>[] = [];
    for (let i = 0; i < opts.threads; i++) {
      const counters = new SharedArrayBuffer(COUNTER_BYTES);
      const workerData: WorkerData = { address: opts.address, port: opts.port, ipv6Only: opts.ipv6Only ?? true, counters };
      const w = new Worker(workerSource(), { eval: true, workerData, name: `clocktower-ntp-${i}` });
      this.#workers.push(w);
      this.#counters.push(new BigUint64Array(counters));
      started.push(
        new Promise<void>((resolve, reject) => {
          let bound = false;
          w.on('message', (m: FromWorker) => {
            if (m.op === 'ready') {
              bound = true;
              resolve();
            } else if (m.op === 'pong') this.#pongs.get(m.id)?.();
            else if (m.op === 'error') reject(new ClocktowerError(m.code, `server thread ${i}: ${m.message}`));
            else if (m.op === 'slow' && opts.onSlowPath) {
              const batch = new RecordBatch(m.slab, m.stride);
              batch.count = m.count;
              opts.onSlowPath(batch);
            }
          });
          // Before binding a failure rejects `ready`; after it, it is reported (the others serve on).
          w.on('error', (e) => (bound ? opts.onError?.(e) : reject(e)));
          w.on('exit', (code) => {
            if (!bound) reject(new ClocktowerError('ECHILD', `server thread ${i} exited (${code}) before binding`));
            else if (!this.#closed) opts.onError?.(new ClocktowerError('ECHILD', `server thread ${i} exited (${code})`));
          });
        }),
      );
    }
    this.#ready = Promise.all(started).then(() => undefined);
    this.#ready.catch(() => undefined); // the caller awaits `ready`; unobserved failures are not crashes
  }

  get ready(): Promise<void> {
    return this.#ready;
  }

  get size(): number {
    return this.#workers.length;
  }

  #post(m: ToWorker): void {
    if (this.#closed) return;
    for (const w of this.#workers) w.postMessage(m);
  }

  setState(state: ServerState, clock: ClockModel): void {
    this.#post({ op: 'state', state, clock });
  }
  setAccess(access: AccessOptions): void {
    this.#post({ op: 'access', access });
  }
  setRateLimit(rateLimit: RateLimitOptions | null): void {
    this.#post({ op: 'rateLimit', rateLimit });
  }
  setKeys(keys: KeyRing, opts: { requireAuth?: boolean } = {}): void {
    this.#post({ op: 'keys', keys, requireAuth: opts.requireAuth ?? false });
  }
  setNtsKeys(keys: readonly MasterKey[]): void {
    this.#post({ op: 'ntsKeys', keys: [...checkNtsKeys(keys)] });
  }
  /** Each worker keeps its own table: SO_REUSEPORT sends one client's requests to one socket. */
  setInterleaved(entries: number): void {
    if (!Number.isInteger(entries) || entries < 0 || entries > MAX_INTERLEAVED_ENTRIES) throw new RangeError(`interleaved entries must be an integer 0..${MAX_INTERLEAVED_ENTRIES}`);
    this.#post({ op: 'interleaved', entries });
  }

  /** Resolves when every worker has applied every setter posted before it. */
  async flush(): Promise<void> {
    await this.#ready;
    await Promise.all(
      this.#workers.map((w) => {
        const id = ++this.#pings;
        return new Promise<void>((resolve) => {
          this.#pongs.set(id, () => {
            this.#pongs.delete(id);
            resolve();
          });
          w.postMessage({ op: 'ping', id } satisfies ToWorker);
        });
      }),
    );
  }

  /** Counters summed over the worker threads. */
  counters(): Record<ServerCounter, bigint> {
    const out = Object.fromEntries(SERVER_COUNTERS.map((k) => [k, 0n])) as Record<ServerCounter, bigint>;
    for (const c of this.#counters) SERVER_COUNTERS.forEach((k, i) => (out[k] += c[i]!));
    return out;
  }

  /** Per-thread answered counts, to see how the kernel spread the load. */
  answeredPerThread(): bigint[] {
    return this.#counters.map((c) => c[SERVER_COUNTERS.indexOf('answered')]!);
  }

  /** Closes every worker's socket and waits for the threads to exit. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#post({ op: 'close' });
    this.#closed = true;
    await Promise.all(this.#workers.map((w) => new Promise<void>((resolve) => (w.threadId === -1 ? resolve() : w.once('exit', () => resolve())))));
  }
}
