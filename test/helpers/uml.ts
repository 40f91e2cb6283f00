// Disposable boards for the kernel tier: user-mode Linux guests, each a real
// Linux kernel run as an ordinary process, with its own kernel clock that the
// daemon inside may step, slew and flag, while this machine's clock stays out
// of reach (every guest starts under setpriv without CAP_SYS_TIME, as the
// whole test run already does). The root file system is this machine's, read
// only (hostfs), with the run directory mounted writable at the same path for
// results; the guest's eth0 is a tap on a bridge in a private network
// namespace whose own address (HOST_ADDRESS) serves the known time.
//
// Timing: a guest's clock source reads this machine's CLOCK_MONOTONIC, so an
// unadjusted guest clock runs at the host's rate, and a guest's adjtimex
// frequency is measured against that. The upstream's time is a line over the
// host's REALTIME (test/kernel/refserver.ts), which runs at the same rate.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { createNetns, type Netns } from './netns.js';
import { have } from './tools.js';
import { nodeArgv, treeRoot } from './node.js';

export const LINK_PREFIX = '198.18.1';
export const HOST_ADDRESS = `${LINK_PREFIX}.1`;
const NO_SYS_TIME = ['setpriv', '--bounding-set=-sys_time', '--inh-caps=-sys_time', '--'];

/** Whether guests can run here; prints why not (and throws under CI, where .ci/run installs user-mode-linux). */
export function canUseUml(): boolean {
  let why = '';
  if (!have('linux')) why = 'user-mode Linux is not installed (Debian package user-mode-linux; .ci/run installs it)';
  else if (!have('setpriv')) why = 'setpriv is not installed (util-linux): guests must start without CAP_SYS_TIME';
  else if (process.getuid?.() !== 0) why = 'the kernel tier needs root (a network namespace and tap devices for the guests)';
  else if (!existsSync('/dev/net/tun')) why = '/dev/net/tun is missing (tap devices)';
  if (!why) return true;
  if (process.env['CI']) throw new Error(why);
  console.warn(`\n  SKIP: ${why}`);
  return false;
}

/** A shared link: a bridge in a private namespace with HOST_ADDRESS on it; guests join it through taps. */
export class Link {
  readonly ns: Netns;
  #taps = 0;

  constructor(tag: string) {
    this.ns = createNetns(`k${tag}`);
    try {
      this.#ip('link', 'add', 'br0', 'type', 'bridge');
      this.#ip('addr', 'add', `${HOST_ADDRESS}/24`, 'dev', 'br0');
      this.#ip('link', 'set', 'br0', 'up');
    } catch (e) {
      this.ns.destroy();
      throw e;
    }
  }

  #ip(...args: string[]): void {
    execFileSync('ip', ['-n', this.ns.name, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  }

  /** A new tap on the bridge for one guest. */
  addTap(): string {
    const tap = `tap${this.#taps++}`;
    this.#ip('tuntap', 'add', 'dev', tap, 'mode', 'tap');
    this.#ip('link', 'set', tap, 'master', 'br0');
    this.#ip('link', 'set', tap, 'up');
    return tap;
  }

  removeTap(tap: string): void {
    try {
      this.#ip('link', 'del', tap);
    } catch {
      // gone with its guest
    }
  }

  /** A process of this tree's on the host side of the link (e.g. the reference server). */
  spawnScript(script: string, args: string[]): ChildProcess {
    return this.ns.spawn(NO_SYS_TIME[0]!, [...NO_SYS_TIME.slice(1), ...nodeArgv(script, args)]);
  }

  destroy(): void {
    this.ns.destroy();
  }
}

export interface GuestOptions {
  link: Link;
  /** The guest's address on the link (LINK_PREFIX.n, n >= 2). */
  address: string;
  /** Shell commands the guest runs as its init, from the tree root; the guest powers off after them. */
  script: string;
  /** Ended (SIGKILL to its process group) after this long. */
  timeoutMs: number;
  memMb?: number;
}

export interface GuestResult {
  /** The script's exit status, or null when the guest did not finish it. */
  code: number | null;
  timedOut: boolean;
  /** The script's stdout and stderr. */
  log: string;
  /** The kernel's console (for a failure's report). */
  console: string;
  /** The run directory (writable in the guest); removed by the caller's cleanup. */
  dir: string;
}

const live = new Set<ChildProcess>();
/** Guests a failed test left: ended with the test process (the netns cleanup runs beside this). */
process.on('exit', () => {
  for (const c of live)
    if (c.pid)
      try {
        process.kill(-c.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
});

/** tsx's transform cache, shared by the guests of one test run (the first guest warms it). */
let cacheDir: string | null = null;
function sharedCache(): string {
  if (!cacheDir) {
    cacheDir = mkdtempSync(path.join(tmpdir(), 'ct-kernel-cache-'));
    process.on('exit', () => rmSync(cacheDir!, { recursive: true, force: true }));
  }
  return cacheDir;
}

/** Boots a guest, runs `script` in it, waits for it to power off (or ends it), returns what it said. */
export async function runGuest(o: GuestOptions): Promise<GuestResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ct-guest-'));
  const cache = sharedCache();
  const tap = o.link.addTap();
  const init = path.join(dir, 'init.sh');
  writeFileSync(
    init,
    [
      '#!/bin/sh',
      `export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=${dir} TMPDIR=${cache} GUEST_DIR=${dir} CI=${process.env['CI'] ?? ''}`,
      'mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t tmpfs tmpfs /run',
      `mount -t hostfs none ${dir} -o ${dir}; mount -t hostfs none ${cache} -o ${cache}`,
      'ip link set lo up',
      `ip addr add ${o.address}/24 dev eth0 && ip link set eth0 up`,
      `cd ${treeRoot}`,
      `( ${o.script}\n) >${dir}/guest.log 2>&1`,
      `echo $? >${dir}/guest.exit`,
      'poweroff -f',
      '',
    ].join('\n'),
  );
  chmodSync(init, 0o755);
  const args = [
    `mem=${o.memMb ?? 384}M`,
    'root=/dev/root',
    'rootfstype=hostfs',
    'rootflags=/',
    'ro',
    `init=${init}`,
    'con=null',
    'con0=fd:0,fd:1',
    'quiet',
    `eth0=tuntap,${tap}`,
    `umid=guest`,
    `uml_dir=${dir}`,
  ];
  const child = spawn('ip', ['netns', 'exec', o.link.ns.name, ...NO_SYS_TIME, 'linux', ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let console_ = '';
  child.stdout!.on('data', (d) => (console_ += d));
  child.stderr!.on('data', (d) => (console_ += d));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, o.timeoutMs);
  await new Promise<void>((resolve) => child.on('close', () => resolve()));
  clearTimeout(timer);
  live.delete(child);
  // UML's helper processes are in the guest's process group: none outlives it.
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    /* all gone */
  }
  o.link.removeTap(tap);
  const read = (f: string) => (existsSync(path.join(dir, f)) ? readFileSync(path.join(dir, f), 'utf8') : '');
  const exit = read('guest.exit').trim();
  return { code: exit === '' ? null : Number(exit), timedOut, log: read('guest.log'), console: console_, dir };
}

export interface BoardRun<R> extends GuestResult {
  /** What the scenario wrote to result.json (null when it wrote nothing). */
  result: R | null;
  /** The reference server's output. */
  upstream: string;
}

/**
 * One kernel-tier scenario: a link, the reference server on its host side
 * (test/kernel/refserver.ts with `upstreamArgs`), one guest running
 * test/kernel/guest/scenarios.ts NAME [scenarioArgs]. Everything is ended and removed after.
 */
export async function runBoard<R>(tag: string, scenario: string, upstreamArgs: string[], timeoutMs: number, scenarioArgs: string[] = []): Promise<BoardRun<R>> {
  const link = new Link(tag);
  let upstream = '';
  const ref = link.spawnScript('test/kernel/refserver.ts', ['--listen', `${HOST_ADDRESS}:123`, ...upstreamArgs]);
  ref.stdout!.on('data', (d) => (upstream += d));
  ref.stderr!.on('data', (d) => (upstream += d));
  let g: GuestResult | null = null;
  try {
    const end = Date.now() + 20_000;
    while (!upstream.includes('ready')) {
      if (ref.exitCode !== null || Date.now() > end) throw new Error(`reference server did not start:\n${upstream}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const [cmd, ...args] = nodeArgv('test/kernel/guest/scenarios.ts', [scenario, ...scenarioArgs]);
    const run = await runGuest({ link, address: `${LINK_PREFIX}.2`, script: [cmd, ...args].map((a) => `'${a}'`).join(' '), timeoutMs });
    g = run;
    const file = path.join(run.dir, 'result.json');
    const result = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as R) : null;
    if (result === null || g.code !== 0) {
      const daemons = readdirSync(run.dir)
        .filter((f) => /^daemon-\d+\.log$/.test(f))
        .sort();
      const logs = daemons
        .map(
          (f) =>
            `--- ${f} (last lines) ---\n${readFileSync(path.join(run.dir, f), 'utf8')
              .split('\n')
              .filter((l) => !l.startsWith('DEBUG sample'))
              .slice(-25)
              .join('\n')}`,
        )
        .join('\n');
      console.error(
        `--- guest ${scenario}: exit ${run.code}${run.timedOut ? ' (timed out)' : ''} ---\n${run.log.slice(-4000)}\n${logs}\n--- console ---\n${run.console.slice(-1500)}\n--- upstream ---\n${upstream}`,
      );
    }
    return { ...run, result, upstream };
  } finally {
    ref.kill('SIGTERM');
    link.destroy();
    if (g) rmSync(g.dir, { recursive: true, force: true });
  }
}
