// Drives test/tools/relay.c (the user-space link emulator) from tests and
// benchmarks: builds it once into build/relay, starts it (optionally inside
// a network namespace), changes its impairments at run time and reads its
// statistics. Stopped by PID; closing its stdin also ends it.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SOURCE = path.join(root, 'test', 'tools', 'relay.c');
export const RELAY_BIN = path.join(root, 'build', 'relay');

export interface LinkSpec {
  delayUs?: number;
  jitterUs?: number;
  dist?: 'uniform' | 'normal' | 'exp';
  loss?: number;
  dup?: number;
  reorder?: number;
}

export interface RelayStats {
  /** Whether the relay runs SCHED_FIFO (asked with rtPriority, granted by the kernel). */
  rt: boolean;
  forwarded: number;
  lost: number;
  duplicated: number;
  reordered: number;
  partition_dropped: number;
  overflow: number;
  /** The relay's own scheduling error, µs: its added jitter. */
  late_us: { p50: number; p99: number; max: number };
  /** The same per direction (fwd: listen -> target; rev: the replies): a difference is an asymmetry the relay adds. */
  late_fwd_us: { p50: number; p99: number; max: number };
  late_rev_us: { p50: number; p99: number; max: number };
}

export function specText(s: LinkSpec): string {
  return [
    `delay=${s.delayUs ?? 0}`,
    `jitter=${s.jitterUs ?? 0}`,
    `dist=${s.dist ?? 'normal'}`,
    `loss=${s.loss ?? 0}`,
    `dup=${s.dup ?? 0}`,
    `reorder=${s.reorder ?? 0}`,
  ].join(',');
}

/** Compiles the relay when the binary is missing or older than its source. */
export function buildRelay(): string {
  if (!existsSync(RELAY_BIN) || statSync(RELAY_BIN).mtimeMs < statSync(SOURCE).mtimeMs) {
    mkdirSync(path.dirname(RELAY_BIN), { recursive: true });
    execFileSync(process.env['CC'] ?? 'cc', ['-O2', '-Wall', '-o', RELAY_BIN, SOURCE, '-lm'], { stdio: 'inherit' });
  }
  return RELAY_BIN;
}

export class Relay {
  readonly #child: ChildProcess;
  #out = '';
  #waiters: Array<(line: string) => void> = [];
  #exited = false;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.stdout!.on('data', (d: Buffer) => {
      this.#out += d.toString();
      let nl;
      while ((nl = this.#out.indexOf('\n')) >= 0) {
        const line = this.#out.slice(0, nl);
        this.#out = this.#out.slice(nl + 1);
        this.#waiters.shift()?.(line);
      }
    });
    child.on('exit', () => {
      this.#exited = true;
      for (const w of this.#waiters.splice(0)) w('error: relay exited');
    });
  }

  /** Starts a relay from `listen` to `target` ("a.b.c.d:port"), inside `netns` when given. */
  static async start(o: {
    listen: string;
    target: string;
    fwd?: LinkSpec;
    rev?: LinkSpec;
    seed?: number;
    netns?: string;
    rtPriority?: number;
  }): Promise<Relay> {
    const argv = [buildRelay(), o.listen, o.target, '--fwd', specText(o.fwd ?? {}), '--rev', specText(o.rev ?? {}), '--seed', String(o.seed ?? 1)];
    if (o.rtPriority !== undefined) argv.push('--rt', String(o.rtPriority));
    if (o.netns) argv.unshift('ip', 'netns', 'exec', o.netns);
    let err = '';
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stderr!.on('data', (d) => (err += d));
    const r = new Relay(child);
    const first = await r.#line();
    if (first !== 'ready') throw new Error(`relay did not start: ${first} ${err}`);
    return r;
  }

  #line(): Promise<string> {
    return new Promise((resolve) => (this.#exited ? resolve('error: relay exited') : this.#waiters.push(resolve)));
  }

  async #command(text: string): Promise<string> {
    const p = this.#line();
    this.#child.stdin!.write(`${text}\n`);
    const answer = await p;
    if (answer.startsWith('error')) throw new Error(`relay: ${answer}`);
    return answer;
  }

  /** Changes one direction: fwd is listen -> target, rev the replies. */
  async set(direction: 'fwd' | 'rev', spec: LinkSpec): Promise<void> {
    await this.#command(`${direction} ${specText(spec)}`);
  }

  async partition(on: boolean): Promise<void> {
    await this.#command(`partition ${on ? 'on' : 'off'}`);
  }

  async stats(): Promise<RelayStats> {
    return JSON.parse(await this.#command('stats')) as RelayStats;
  }

  async stop(): Promise<void> {
    if (this.#exited) return;
    const gone = new Promise((r) => this.#child.once('exit', r));
    this.#child.stdin!.end('quit\n');
    const t = setTimeout(() => this.#child.kill('SIGKILL'), 2000);
    await gone;
    clearTimeout(t);
  }
}
