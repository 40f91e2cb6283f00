// Synthetic recordings through the sync core (replay-samples.ts's replay):
// the delay patterns the accuracy benchmark's relay does not make, above all
// queueing on one leg, where a slower sample is skewed by half its extra
// delay. Each kind: 40 seeds of 120 samples at 1 s (± 5 ms), statistics after
// 15 s as the benchmark takes them; geometric means of |error| p50 and p99
// over the seeds, and the worst seed's p99.
//   node --import tsx bench/tools/replay-synthetic.ts [--seeds N]
import { seededRng, type Rng } from '../../src/util/rng.js';
import { quantiles, replay, type RawSample } from './replay-samples.js';

/** One sample's error from the truth and its round-trip delay, ns. */
type Draw = (r: Rng) => { errNs: number; delayNs: number };

/** Exponential with the given mean. */
const expo = (r: Rng, meanNs: number) => -meanNs * Math.log(1 - r.float());
/** Queueing of mean `meanNs` on the forward or the reverse leg, even odds. */
const eitherLeg =
  (meanNs: number): Draw =>
  (r) => {
    const q = expo(r, meanNs);
    return { errNs: (r.float() < 0.5 ? q : -q) / 2, delayNs: 500_000 + q };
  };

const KINDS: Record<string, Draw> = {
  'one leg queues, mean 30 µs': eitherLeg(30_000),
  'one leg queues, mean 200 µs': eitherLeg(200_000),
  'forward leg queues, mean 100 µs': (r) => {
    const q = expo(r, 100_000);
    return { errNs: q / 2, delayNs: 500_000 + q };
  },
  '30 % of samples queue, mean 300 µs': (r) => {
    const q = r.float() < 0.3 ? expo(r, 300_000) : 0;
    return { errNs: (r.float() < 0.5 ? q : -q) / 2 + 2_000 * (r.float() - 0.5), delayNs: 500_000 + q + 2_000 * r.float() };
  },
  'normal jitter 50 µs on both legs': (r) => {
    const g = () => Math.sqrt(-2 * Math.log(1 - r.float())) * Math.cos(2 * Math.PI * r.float()) * 50_000;
    const fwd = g(),
      rev = g();
    return { errNs: (fwd - rev) / 2, delayNs: 700_000 + fwd + rev };
  },
};

function recording(draw: Draw, seed: number): RawSample[] {
  const r = seededRng(seed);
  const t0 = 1_700_000_000_000_000_000n;
  return Array.from({ length: 120 }, (_, i) => {
    const d = draw(r);
    return { sysNs: t0 + BigInt(i) * 1_000_000_000n + BigInt(Math.round((r.float() - 0.5) * 1e7)), trueOffsetNs: d.errNs, delayNs: d.delayNs };
  });
}

const geomean = (xs: number[]) => Math.exp(xs.reduce((s, x) => s + Math.log(Math.max(x, 1)), 0) / xs.length);

const args = process.argv.slice(2);
const at = args.indexOf('--seeds');
const seeds = at >= 0 ? Number(args[at + 1]) : 40;
console.log(`${'kind'.padEnd(36)} |error| p50 µs  p99 µs  worst p99 µs  (${seeds} seeds)`);
for (const [name, draw] of Object.entries(KINDS)) {
  const p50: number[] = [],
    p99: number[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const q = quantiles(
      replay(recording(draw, seed * 7919))
        .filter((e) => e.tS >= 15)
        .map((e) => e.errNs),
    );
    p50.push(q.p50);
    p99.push(q.p99);
  }
  const us = (ns: number) => (ns / 1000).toFixed(2).padStart(8);
  console.log(`${name.padEnd(36)} ${us(geomean(p50))} ${us(geomean(p99))} ${us(Math.max(...p99))}`);
}
