// Replays a run's raw samples through the sync core, offline. bench/accuracy
// --samples keeps our client's `sample` debug lines; since every host there
// shares one kernel clock, each sample's offset from the system clock (the
// truth) is known: offset_ns + local_minus_sys_ns. Replaying them into a
// fresh clock filter + discipline driving a virtual clock, and reading that
// clock's error every 250 ms as the benchmark does, compares estimators on
// the very same measurements in seconds, where a new run through this noisy
// VM takes minutes and never sees the same traffic twice. A FILE ending in
// -chrony-readings.csv (bench/accuracy's readings of its chronyd) replays
// chronyd's own samples: our estimator on the packets chronyd got.
// --bootstrap N replays N samples drawn with replacement from each file (at
// 1 s ± 10 %, as the client polls): the same noise, long enough for stable
// statistics.
// VARIANTS='{"name": {...}}' replays once per entry with those Discipline
// options ("raw": true also bypasses the clock filter: every sample to the
// discipline).
//   node --import tsx bench/tools/replay-samples.ts FILE... [--warmup S] [--bootstrap N]
import { readFileSync } from 'node:fs';

import { FIRST_STEP_NS } from '../../src/cluster/node.js';
import { VirtualClock } from '../../src/clock/virtual.js';
import { Discipline, type DisciplineOptions } from '../../src/sync/discipline.js';
import { ClockFilter } from '../../src/sync/filter.js';
import { seededRng } from '../../src/util/rng.js';

export interface RawSample {
  sysNs: bigint;
  /** Source time − system time: the sample's offset against the truth. */
  trueOffsetNs: number;
  delayNs: number;
}

const FIELD = /(\w+)=(-?\d+)/g;

export function parseSamples(text: string): RawSample[] {
  const out: RawSample[] = [];
  for (const line of text.split('\n')) {
    if (!/^DEBUG sample /.test(line)) continue;
    const f: Record<string, string> = {};
    for (const m of line.matchAll(FIELD)) f[m[1]!] = m[2]!;
    if (f['offset_ns'] === undefined || f['local_minus_sys_ns'] === undefined || f['sys_ns'] === undefined) continue;
    out.push({ sysNs: BigInt(f['sys_ns']), trueOffsetNs: Number(BigInt(f['offset_ns']) + BigInt(f['local_minus_sys_ns'])), delayNs: Number(f['delay_ns']) });
  }
  return out;
}

/**
 * One reading of a `chronyd -x` client (bench/accuracy, every 250 ms):
 * `chronyc -c tracking` and `ntpdata` together.
 */
export interface ChronyReading {
  /** System time (the truth) when read. */
  wallNs: bigint;
  /** chronyd's estimate of true time − the system clock (tracking "System time"; positive: "slow of NTP time"). */
  systemTimeNs: number;
  /** When chronyd last updated its clock (tracking "Ref time"), ns. */
  refTimeNs: bigint;
  /** ntpdata "Total valid RX": goes up by one with each new sample. */
  validRx: number;
  /** The last sample: offset (source − chronyd's clock) and round-trip delay. */
  offsetNs: number;
  delayNs: number;
}

/**
 * chronyd's own samples from its readings, against the truth: replaying them
 * through our sync core compares the two estimators on the very same
 * packets. With -x chronyd measures against its own virtual clock (the
 * system clock plus the corrections it would have made), so a new sample's
 * offset is put back on the truth with the System time of the reading before
 * it, which is the correction in force when the sample was taken (chronyd
 * updates its clock right after each sample, at its Ref time, which is the
 * sample's time here). A reading that shows more than one new sample (an
 * iburst) gives the last one only.
 */
export function chronySamples(readings: ChronyReading[]): RawSample[] {
  const out: RawSample[] = [];
  for (let i = 1; i < readings.length; i++) {
    const prev = readings[i - 1]!,
      r = readings[i]!;
    if (r.validRx <= prev.validRx) continue;
    out.push({ sysNs: r.refTimeNs !== prev.refTimeNs ? r.refTimeNs : r.wallNs, trueOffsetNs: r.offsetNs + prev.systemTimeNs, delayNs: r.delayNs });
  }
  return out;
}

const READING_FIELDS = ['wall_ns', 'system_time_ns', 'ref_time_ns', 'valid_rx', 'offset_ns', 'delay_ns'] as const;

export function formatChronyReadings(readings: ChronyReading[]): string {
  return (
    [READING_FIELDS.join(','), ...readings.map((r) => [r.wallNs, r.systemTimeNs, r.refTimeNs, r.validRx, r.offsetNs, r.delayNs].join(','))].join('\n') + '\n'
  );
}

export function parseChronyReadings(text: string): ChronyReading[] {
  return text
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','))
    .map(([wall, st, ref, rx, off, delay]) => ({
      wallNs: BigInt(wall!),
      systemTimeNs: Number(st),
      refTimeNs: BigInt(ref!),
      validRx: Number(rx),
      offsetNs: Number(off),
      delayNs: Number(delay),
    }));
}

const SAMPLE_NS = 250_000_000n;
/** What a sample's own dispersion is at this precision (2^-20 s each side), near enough. */
const SAMPLE_DISPERSION_NS = 2_000;

/** The local clock's error (node − true time) every 250 ms, the sync core fed `samples` in order. */
export function replay(samples: RawSample[], o: DisciplineOptions & { raw?: boolean } = {}): { tS: number; errNs: number }[] {
  const first = samples[0];
  if (!first) return [];
  const clock = new VirtualClock({ atSysNs: first.sysNs });
  const filter = new ClockFilter();
  const discipline = new Discipline({ firstStepThresholdNs: FIRST_STEP_NS, ...o });
  const errors: { tS: number; errNs: number }[] = [];
  let synced = false;
  let next = first.sysNs;
  for (const s of samples) {
    for (; synced && next <= s.sysNs; next += SAMPLE_NS) errors.push({ tS: Number(next - first.sysNs) / 1e9, errNs: Number(clock.nodeNs(next) - next) });
    if (!synced) next = s.sysNs;
    const localNs = clock.cookedNs(s.sysNs);
    const offsetNs = BigInt(Math.round(s.trueOffsetNs)) - (localNs - s.sysNs);
    const sample = {
      offsetNs,
      delayNs: s.delayNs,
      dispersionNs: SAMPLE_DISPERSION_NS,
      localNs,
      stratum: 1,
      leap: 0,
      refId: 0,
      rootDelayNs: 0,
      rootDispersionNs: 0,
      pollLog2: 0,
      precisionLog2: -20,
      referenceNs: null,
      t1Ns: 0n,
      t2Ns: 0n,
      t3Ns: 0n,
      t4Ns: 0n,
    };
    const out = o.raw ? sample : filter.add(sample);
    if (!out) continue;
    const r = discipline.update({ offsetNs: out.offsetNs, localNs, errorNs: 0, leap: 0, delayNs: out.delayNs });
    filter.correct(r.phaseNs, r.freqDeltaPpm, localNs);
    if (r.stepped) filter.reset();
    for (const cmd of r.commands) clock.apply(cmd, s.sysNs);
    synced = true;
  }
  return errors;
}

/** n samples drawn with replacement from `from`, one per 1 s ± 10 %. */
export function bootstrap(from: RawSample[], n: number, seed: number): RawSample[] {
  const rng = seededRng(seed);
  let t = from[0]?.sysNs ?? 0n;
  return Array.from({ length: from.length ? n : 0 }, () => {
    t += BigInt(Math.round(1e9 * (0.9 + 0.2 * rng.float())));
    const s = from[rng.int(0, from.length - 1)]!;
    return { sysNs: t, trueOffsetNs: s.trueOffsetNs, delayNs: s.delayNs };
  });
}

/** The median (the mean of the middle two for an even count); NaN for none. */
export function median(xs: number[]): number {
  const a = [...xs].sort((x, y) => x - y);
  const m = a.length >> 1;
  return a.length === 0 ? NaN : a.length % 2 ? a[m]! : (a[m - 1]! + a[m]!) / 2;
}

/** |x| statistics, as bench/accuracy reports them. */
export function quantiles(xs: number[]): { p50: number; p99: number; max: number; n: number } {
  const a = xs.map(Math.abs).sort((x, y) => x - y);
  const q = (f: number) => (a.length ? a[Math.min(a.length - 1, Math.floor(f * a.length))]! : NaN);
  return { p50: q(0.5), p99: q(0.99), max: a.length ? a[a.length - 1]! : NaN, n: a.length };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const w = args.indexOf('--warmup');
  const warmupS = w >= 0 ? Number(args[w + 1]) : 15;
  const b = args.indexOf('--bootstrap');
  const boot = b >= 0 ? Number(args[b + 1]) : 0;
  const files = args.filter((a, i) => !a.startsWith('--') && !(w >= 0 && i === w + 1) && !(b >= 0 && i === b + 1));
  const us = (ns: number) => (ns / 1000).toFixed(1).padStart(7);
  console.log('file                                   samples  true offset p50 (least-delay 10 %)   replayed |error| p50    p99    max');
  const variants: Record<string, DisciplineOptions & { raw?: boolean }> = JSON.parse(process.env['VARIANTS'] ?? '{"current":{}}');
  for (const file of files) {
    const parsed = file.endsWith('-chrony-readings.csv')
      ? chronySamples(parseChronyReadings(readFileSync(file, 'utf8')))
      : parseSamples(readFileSync(file, 'utf8'));
    const samples = boot ? bootstrap(parsed, boot, 1) : parsed;
    const byDelay = [...samples].sort((a, b) => a.delayNs - b.delayNs).slice(0, Math.max(1, Math.floor(samples.length / 10)));
    console.log(
      `${file.slice(-38).padEnd(38)} ${String(samples.length).padStart(7)}  ${us(median(samples.map((s) => s.trueOffsetNs)))} (${us(median(byDelay.map((s) => s.trueOffsetNs)))})`,
    );
    for (const [name, v] of Object.entries(variants)) {
      const q = quantiles(
        replay(samples, v)
          .filter((e) => e.tS >= warmupS)
          .map((e) => e.errNs),
      );
      console.log(`  ${name.padEnd(60)} ${us(q.p50)} ${us(q.p99)} ${us(q.max)}`);
    }
  }
}
