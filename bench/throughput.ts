// Side-by-side NTP server throughput on loopback, in one run: (a) clocktower's
// native server, (b) a pure-JS dgram server with the TS core, (c) chronyd -x,
// (d) a recvmmsg/sendmmsg UDP echo in C (the kernel-path ceiling). The load
// generator (`clocktower bench`, native) is pinned to CPU 0 and each server
// to CPU 1. Before each measurement the script waits for both CPUs to be
// idle; rounds are interleaved and medians reported. Prints replies/s,
// server CPU µs per reply and, where `perf stat` counts instructions, the
// server's instructions per reply (user + kernel: the one figure that does
// not move with this VM's speed), then exactly:
//   ratios ours/chrony=X.XX ours/echo=X.XX ours/js=X.XX
// (each ratio: the median over rounds of that round's replies/s ratio).
// Our server and chronyd are also loaded with requests in interleaved form
// (RFC 9769: every reply TX-stamped, answered with earlier replies' stamps);
// the line before the ratios gives interleaved/basic for each. Both also
// serve NTS (RFC 8915; `clocktower bench --nts`: NTS-KE first, then every
// request sealed with a cookie and every reply authenticated), and a line
// gives NTS/basic for each.
// Usage: bench/throughput [--quick] [--rounds N] [--seconds S]
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { selfSignedCert } from '../test/helpers/certs.js';
import { startChronyd, startOurs, startPinned, type NtsCert } from './tools/pinned-servers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const argVal = (k: string, d: number) => (args.includes(k) ? Number(args[args.indexOf(k) + 1]) : d);
const rounds = argVal('--rounds', quick ? 2 : 5);
const seconds = argVal('--seconds', quick ? 2 : 5);
const WINDOW = 256;
const tmp = mkdtempSync(path.join(tmpdir(), 'ct-throughput-'));
const CLK_TCK = 100;

function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function ensureChronyd(): string | null {
  if (have('chronyd')) return null;
  try {
    writeFileSync('/usr/sbin/policy-rc.d', '#!/bin/sh\nexit 101\n', { mode: 0o755, flag: 'wx' });
  } catch {
    // already there
  }
  try {
    execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chrony'], {
      stdio: 'ignore',
    });
  } catch {
    return 'chronyd is not installed and apt-get install chrony failed (not root, or no package mirror)';
  }
  return have('chronyd') ? null : 'chronyd still missing after install';
}

function cpuTimes(): number[][] {
  return readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .filter((l) => /^cpu\d/.test(l))
    .map((l) => l.split(/\s+/).slice(1).map(Number));
}

async function waitIdle(): Promise<void> {
  for (let tries = 0; tries < 20; tries++) {
    const a = cpuTimes();
    await new Promise((r) => setTimeout(r, 500));
    const b = cpuTimes();
    const idle = b.map((cpu, i) => {
      const tot = cpu.reduce((s, v) => s + v, 0) - a[i]!.reduce((s, v) => s + v, 0);
      return tot > 0 ? (cpu[3]! - a[i]![3]!) / tot : 1;
    });
    if (idle.every((x) => x > 0.85)) return;
  }
  console.error('  (CPUs never went idle; measuring anyway)');
}

function procCpuNs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return ((Number(rest[11]) + Number(rest[12])) * 1e9) / CLK_TCK;
}

/** perf stat can count this machine's instructions (a VM may not expose the PMU). */
function perfWorks(): boolean {
  const r = spawnSync('perf', ['stat', '-x,', '-e', 'instructions', 'true'], { encoding: 'utf8' });
  return r.status === 0 && /^\d+,/m.test(r.stderr ?? '');
}

/** Counts a process's user and kernel instructions until stopped. */
function countInstructions(pid: number): () => Promise<number> {
  const out = path.join(tmp, `perf-${pid}.txt`);
  const perf = spawn('perf', ['stat', '-x,', '-e', 'instructions:u,instructions:k', '-p', String(pid), '-o', out], { stdio: 'ignore' });
  return async () => {
    perf.kill('SIGINT');
    await new Promise((r) => perf.once('exit', r));
    const rows = readFileSync(out, 'utf8')
      .split('\n')
      .filter((l) => /^\d/.test(l));
    return rows.reduce((sum, l) => sum + Number(l.split(',')[0]), 0);
  };
}

interface Server {
  name: string;
  start(port: number): Promise<ChildProcess>;
  /** The load asks in interleaved form. */
  interleaved?: boolean;
  /** The load runs NTS-KE on port + 1000, then sends NTS requests. */
  nts?: boolean;
}

// One certificate for both servers' NTS-KE, trusted by the generator.
const ntsCert: NtsCert = (() => {
  const c = selfSignedCert();
  const cert = path.join(tmp, 'nts-cert.pem');
  const key = path.join(tmp, 'nts-key.pem');
  writeFileSync(cert, c.cert);
  writeFileSync(key, c.key, { mode: 0o600 });
  return { cert, key };
})();

const node = process.execPath;
const servers: Server[] = [
  { name: 'clocktower (native)', start: (p) => startOurs(p) },
  {
    name: 'pure JS (dgram + TS core)',
    start: (p) => startPinned(node, ['--import', 'tsx', path.join(root, 'bench/servers/js-server.ts'), '127.0.0.1', String(p)], /ready/),
  },
  { name: 'chronyd 4.x', start: (p) => startChronyd(p, tmp) },
  { name: 'C echo (ceiling)', start: (p) => startPinned(path.join(tmp, 'echo'), ['127.0.0.1', String(p)], /ready/) },
];
// The same two servers under interleaved load, and serving NTS.
servers.push(
  ...servers
    .filter((s) => s.name.startsWith('clocktower') || s.name.startsWith('chronyd'))
    .map((s) => ({ ...s, name: `${s.name}, interleaved`, interleaved: true })),
  { name: 'clocktower (native), NTS', start: (p) => startOurs(p, ntsCert), nts: true },
  { name: 'chronyd 4.x, NTS', start: (p) => startChronyd(p, tmp, ntsCert), nts: true },
);

function generator(
  port: number,
  interleaved = false,
  nts = false,
): { replies_per_s: number; valid: number; loss: number; interleaved: number | null; latency_ns: { p99: number } } {
  const out = execFileSync(
    'taskset',
    [
      '-c',
      '0',
      node,
      path.join(root, 'bin/clocktower.js'),
      'bench',
      `127.0.0.1:${nts ? port + 1000 : port}`,
      ...(nts ? ['--nts', '--ca', ntsCert.cert] : []),
      '--json',
      '--duration',
      String(seconds),
      '--window',
      String(WINDOW),
      ...(interleaved ? ['--interleaved'] : []),
    ],
    { encoding: 'utf8', timeout: (seconds + 30) * 1000 },
  );
  return JSON.parse(out);
}

/** One native server process answers at least 10 million requests; its JS heap is read after a forced GC at start and end. */
async function heapCheck(): Promise<void> {
  const target = quick ? 2_000_000 : 10_000_000;
  const port = 12399;
  const child = spawn(
    'taskset',
    ['-c', '1', node, '--expose-gc', '--import', 'tsx', path.join(root, 'test/interop/fixtures/serve.ts'), '127.0.0.1', String(port), '3'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  while (!out.includes('ready')) await new Promise((r) => setTimeout(r, 50));
  let served = 0;
  while (served < target) served += generator(port).valid;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  const stats = JSON.parse(out.split('\n').find((l) => l.startsWith('{'))!);
  const mb = (b: number) => (b / 1048576).toFixed(2);
  console.log(
    `\nJS heap of the native server: ${mb(stats.heapStart)} MB at start, ${mb(stats.heapEnd)} MB after ${stats.answered.toLocaleString('en')} answers (after GC)`,
  );
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  execFileSync('cc', ['-O2', '-o', path.join(tmp, 'echo'), path.join(root, 'bench/servers/echo.c')]);
  execFileSync(node, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')]);
  const chronyProblem = ensureChronyd();
  if (chronyProblem) console.error(`chronyd: ${chronyProblem}; it is left out`);
  const active = servers.filter((s) => !(chronyProblem && s.name.startsWith('chronyd')));
  const perf = perfWorks();
  if (!perf) console.error('perf stat cannot count instructions here: the instructions column is left out');
  const results = new Map<string, { rate: number[]; cpuUs: number[]; loss: number[]; p99: number[]; instr: number[]; xleave: number[] }>();
  for (const s of active) results.set(s.name, { rate: [], cpuUs: [], loss: [], p99: [], instr: [], xleave: [] });
  let port = 12400;
  for (let r = 0; r < rounds; r++) {
    for (const s of active) {
      const child = await s.start(++port);
      try {
        await waitIdle();
        const cpu0 = procCpuNs(child.pid!);
        const stopCount = perf ? countInstructions(child.pid!) : null;
        const g = generator(port, s.interleaved, s.nts);
        const cpu = procCpuNs(child.pid!) - cpu0;
        const instr = stopCount ? (await stopCount()) / Math.max(1, g.valid) : NaN;
        const e = results.get(s.name)!;
        e.instr.push(instr);
        e.rate.push(g.replies_per_s);
        e.cpuUs.push(g.valid ? cpu / g.valid / 1000 : NaN);
        e.loss.push(g.loss);
        e.p99.push(g.latency_ns.p99);
        if (g.interleaved !== null) e.xleave.push(g.interleaved / Math.max(1, g.valid));
        console.log(
          `round ${r + 1}/${rounds} ${s.name.padEnd(34)} ${g.replies_per_s.toFixed(0).padStart(8)} replies/s  ${(cpu / Math.max(1, g.valid) / 1000).toFixed(2)} µs CPU/reply  loss ${(g.loss * 100).toFixed(2)} %  ${instr.toFixed(0)} instr/reply`,
        );
      } finally {
        child.removeAllListeners('exit');
        child.kill('SIGTERM');
        await new Promise((res) => setTimeout(res, 200));
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    }
  }
  console.log(`\nmedians over ${rounds} round(s) of ${seconds} s, window ${WINDOW}, generator on CPU 0, server on CPU 1:`);
  console.log(
    `${'server'.padEnd(34)} ${'replies/s'.padStart(10)} ${'µs CPU/reply'.padStart(13)} ${'p99 µs'.padStart(8)} ${'loss %'.padStart(7)} ${'instr/reply'.padStart(12)}`,
  );
  for (const [name, e] of results) {
    console.log(
      `${name.padEnd(34)} ${median(e.rate).toFixed(0).padStart(10)} ${median(e.cpuUs).toFixed(2).padStart(13)} ${(median(e.p99) / 1000).toFixed(1).padStart(8)} ${(median(e.loss) * 100).toFixed(2).padStart(7)} ${(Number.isNaN(median(e.instr)) ? 'n/a' : median(e.instr).toFixed(0)).padStart(12)}`,
    );
  }
  if (perf) {
    // Capacity by work done: the other server's instructions per reply over ours.
    const per = (k: string) => median(results.get(k)?.instr ?? [NaN]);
    const cap = (k: string) => (per(k) / per('clocktower (native)')).toFixed(2);
    console.log(
      `instructions per reply, other/ours (capacity ratio): ours/chrony=${cap('chronyd 4.x')} ours/echo=${cap('C echo (ceiling)')} ours/js=${cap('pure JS (dgram + TS core)')}`,
    );
  }
  await heapCheck();
  // The shared VM changes speed between rounds (2x swings seen), so each
  // ratio is taken within a round, where the four ran back to back, and the
  // median of those per-round ratios is reported.
  const ours = results.get('clocktower (native)')!.rate;
  const ratio = (k: string) => {
    const other = results.get(k)?.rate;
    return other ? median(ours.map((v, i) => v / other[i]!)).toFixed(2) : 'n/a';
  };
  // Interleaved capacity: each server under interleaved load over itself under basic load, per round.
  const within = (a: string, b: string) => {
    const x = results.get(a)?.rate;
    const y = results.get(b)?.rate;
    return x && y ? median(x.map((v, i) => v / y[i]!)).toFixed(2) : 'n/a';
  };
  const share = (k: string) => (results.get(k)?.xleave.length ? `${(median(results.get(k)!.xleave) * 100).toFixed(0)} %` : 'n/a');
  console.log(
    `interleaved/basic ours=${within('clocktower (native), interleaved', 'clocktower (native)')} chrony=${within('chronyd 4.x, interleaved', 'chronyd 4.x')} (replies interleaved: ours ${share('clocktower (native), interleaved')}, chrony ${share('chronyd 4.x, interleaved')})`,
  );
  console.log(
    `nts/basic ours=${within('clocktower (native), NTS', 'clocktower (native)')} chrony=${within('chronyd 4.x, NTS', 'chronyd 4.x')}; NTS ours/chrony=${within('clocktower (native), NTS', 'chronyd 4.x, NTS')}`,
  );
  if (perf) {
    const per = (k: string) => median(results.get(k)?.instr ?? [NaN]);
    console.log(
      `instructions per reply, basic/NTS (capacity ratio): ours=${(per('clocktower (native)') / per('clocktower (native), NTS')).toFixed(2)} chrony=${(per('chronyd 4.x') / per('chronyd 4.x, NTS')).toFixed(2)}`,
    );
  }
  console.log(`ratios ours/chrony=${ratio('chronyd 4.x')} ours/echo=${ratio('C echo (ceiling)')} ours/js=${ratio('pure JS (dgram + TS core)')}`);
}

try {
  await main();
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
