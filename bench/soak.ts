// Overload and soak of a real daemon (`clocktower run`, a lone node serving
// on loopback). The daemon is pinned to CPU 1 and the native load generator
// (`clocktower bench`) to CPU 0. A generator costs about what a server does
// per packet, so one core cannot offer twice what another serves: the daemon
// is held to 40 % of its core (a cgroup CPU quota, 4 ms per 10 ms period)
// where the machine allows it, and its capacity measured under that quota.
//   1. capacity: closed loop, window 256, 3 s -> valid replies/s.
//   2. overload: open loop at 2 × capacity for --seconds (default 60): the
//      server must keep answering at about its capacity with bounded latency.
//   3. with --minutes M: M minutes of normal load, not in CI: the quota is
//      lifted (its 6 ms pauses would overflow the socket buffer at any
//      rate) and the load is half the capacity measured under it, in 60 s runs.
// Throughout, the daemon's own status (control socket) is sampled for
// resident memory, JS heap and open descriptors: start, peak and end are
// reported. Last line:
//   soak: overload X.XX of capacity, p99 Y ms; rss +A MB, heap +B MB, fds +N
// Usage: npm run bench:soak [-- --quick | --seconds S | --minutes M]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { BenchReport } from '../src/tools/bench.js';
import type { Status } from '../src/daemon/status.js';
import { DaemonProc, waitStatuses } from '../test/helpers/daemon.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const argVal = (k: string, d: number) => (args.includes(k) ? Number(args[args.indexOf(k) + 1]) : d);
const quick = args.includes('--quick');
const overloadS = argVal('--seconds', quick ? 10 : 60);
const soakMin = argVal('--minutes', 0);
const HOST = '127.77.9.1';
const PORT = 11190;

function load(opts: string[], seconds: number): BenchReport {
  const out = execFileSync(
    'taskset',
    ['-c', '0', process.execPath, path.join(root, 'bin/clocktower.js'), 'bench', `${HOST}:${PORT}`, '--json', '--duration', String(seconds), ...opts],
    { encoding: 'utf8', timeout: (seconds + 30) * 1000 },
  );
  return JSON.parse(out) as BenchReport;
}

type Use = Status['process'];

/** A cgroup (v1 cpu controller) holding the daemon to `share` of one core; null where there is none. */
function cpuQuota(pid: number, share: number): { lift: () => void; remove: () => void } | null {
  const dir = `/sys/fs/cgroup/cpu/clocktower-soak-${process.pid}`;
  try {
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'cpu.cfs_period_us'), '10000');
    writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), String(Math.round(10000 * share)));
    writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
    return {
      lift: () => writeFileSync('/sys/fs/cgroup/cpu/cgroup.procs', String(pid)),
      remove: () => rmdirSync(dir),
    };
  } catch (e) {
    console.error(`no CPU quota (${(e as Error).message}): the generator may not reach 2 × capacity`);
    try {
      rmdirSync(dir);
    } catch {
      // never made
    }
    return null;
  }
}
const mb = (b: number) => (b / 1048576).toFixed(1);

async function main(): Promise<void> {
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')]);
  const dir = mkdtempSync(path.join(tmpdir(), 'ct-soak-'));
  const d = DaemonProc.write(dir, { id: 'soak', priority: 0, address: HOST, ntpPort: PORT, clusterPort: 12390, peers: [], start: null });
  d.wrap = ['taskset', '-c', '1'];
  d.start();
  const samples: Use[] = [];
  const sample = async (): Promise<Status> => {
    const [s] = await waitStatuses([d], 'status', (ss) => ss[0] !== null, 5000);
    samples.push(s!.process);
    return s!;
  };
  const quota = cpuQuota(d.child.pid!, 0.4);
  // Stopped early (^C): the daemon and the cgroup go too, once the running load (≤ 60 s) returns.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      void d.stop().then(() => {
        quota?.remove();
        rmSync(dir, { recursive: true, force: true });
        process.exit(130);
      });
    });
  }
  try {
    await waitStatuses([d], 'the daemon to serve', (ss) => ss[0]?.role === 'server', 20_000);
    const start = await sample();
    const cap = load(['--window', '256'], 3);
    console.log(
      `capacity (closed loop, window 256${quota ? ', daemon at 40 % of a core' : ''}): ${cap.replies_per_s.toFixed(0)} replies/s, p99 ${(cap.latency_ns.p99 / 1e6).toFixed(2)} ms`,
    );

    // Overload, sampled every 2 s from this (unpinned) process while the generator runs.
    const rate = Math.round(cap.replies_per_s * 2);
    const sampler = setInterval(() => void sample().catch(() => undefined), 2000);
    let over: BenchReport;
    try {
      over = await new Promise<BenchReport>((resolve, reject) =>
        setImmediate(() => {
          try {
            resolve(load(['--rate', String(rate), '--timeout', '0.5'], overloadS));
          } catch (e) {
            reject(e);
          }
        }),
      );
    } finally {
      clearInterval(sampler);
    }
    const offered = over.sent / over.duration_s;
    console.log(
      `overload: offered ${offered.toFixed(0)}/s (asked ${rate}/s = 2 × capacity) for ${overloadS} s: ${over.replies_per_s.toFixed(0)} valid replies/s (${(over.replies_per_s / cap.replies_per_s).toFixed(2)} of capacity), loss ${(over.loss * 100).toFixed(1)} %, p50 ${(over.latency_ns.p50 / 1e3).toFixed(0)} µs, p99 ${(over.latency_ns.p99 / 1e6).toFixed(2)} ms, p99.9 ${(over.latency_ns.p999 / 1e6).toFixed(2)} ms`,
    );

    const chunks: BenchReport[] = [];
    if (soakMin > 0) quota?.lift();
    for (let m = 0; m < soakMin; m++) {
      chunks.push(load(['--rate', String(Math.round(cap.replies_per_s / 2)), '--timeout', '0.5'], 60));
      await sample();
      const c = chunks.at(-1)!;
      const u = samples.at(-1)!;
      console.log(
        `soak minute ${m + 1}/${soakMin}: ${c.replies_per_s.toFixed(0)} replies/s, loss ${(c.loss * 100).toFixed(2)} %, p99 ${(c.latency_ns.p99 / 1e6).toFixed(2)} ms; rss ${mb(u.rss_bytes)} MB, heap ${mb(u.heap_used_bytes)} MB, fds ${u.open_fds}`,
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
    const end = await sample();
    const first = start.process;
    const last = end.process;
    const peak = (k: keyof Use) => Math.max(...samples.map((s) => s[k]));
    console.log(
      `daemon: rss ${mb(first.rss_bytes)} → ${mb(last.rss_bytes)} MB (peak ${mb(peak('rss_bytes'))}), JS heap ${mb(first.heap_used_bytes)} → ${mb(last.heap_used_bytes)} MB (peak ${mb(peak('heap_used_bytes'))}), fds ${first.open_fds} → ${last.open_fds}; answered ${end.ntp.counters['answered']}, role ${end.role}`,
    );
    if (chunks.length) {
      const worst = Math.max(...chunks.map((c) => c.latency_ns.p99));
      const slowest = Math.min(...chunks.map((c) => c.replies_per_s));
      console.log(
        `soak: ${soakMin} min at half capacity: slowest minute ${slowest.toFixed(0)} replies/s, worst p99 ${(worst / 1e6).toFixed(2)} ms, max loss ${(Math.max(...chunks.map((c) => c.loss)) * 100).toFixed(2)} %`,
      );
    }
    console.log(
      `soak: overload ${(over.replies_per_s / cap.replies_per_s).toFixed(2)} of capacity, p99 ${(over.latency_ns.p99 / 1e6).toFixed(2)} ms; rss ${last.rss_bytes >= first.rss_bytes ? '+' : ''}${mb(last.rss_bytes - first.rss_bytes)} MB, heap ${last.heap_used_bytes >= first.heap_used_bytes ? '+' : ''}${mb(last.heap_used_bytes - first.heap_used_bytes)} MB, fds ${last.open_fds - first.open_fds >= 0 ? '+' : ''}${last.open_fds - first.open_fds}`,
    );
  } finally {
    await d.stop();
    quota?.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
