// Clock filter (RFC 5905 §10, with the adaptive median gate of docs/ntp-core.md) and
// selection (§11.2): no sample is used twice; the intersection rejects falsetickers; clustering trims outliers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import type { Sample } from '../../src/ntp/wire.js';
import { ClockFilter } from '../../src/sync/filter.js';
import { intersect, selectSources, type Candidate } from '../../src/sync/select.js';
import { seededRng } from '../../src/util/rng.js';
import { testSeed } from '../helpers/seed.js';

function sample(localNs: bigint, offsetNs: bigint, delayNs: number): Sample {
  return {
    offsetNs,
    delayNs,
    dispersionNs: 1000,
    localNs,
    stratum: 2,
    leap: 0,
    refId: 0,
    rootDelayNs: 0,
    rootDispersionNs: 0,
    pollLog2: 4,
    precisionLog2: -20,
    referenceNs: 0n,
    t1Ns: 0n,
    t2Ns: 0n,
    t3Ns: 0n,
    t4Ns: 0n,
  };
}

test("filter: a new source's first samples pass, and every sample while young; after that the lowest delay, or a new sample at or under the median delay", () => {
  const f = new ClockFilter();
  const S = 1_000_000_000n;
  for (let i = 1n; i <= 4n; i++) assert.ok(f.add(sample(i * S, i, Number(100n * i))), `burst sample ${i} is used`);
  assert.ok(f.add(sample(5n * S, 999n, 900)), 'young: a sample slower than the median is used too');
  let t = 6n;
  for (; t < 40n; t++) assert.ok(f.add(sample(t * S, 0n, 100)), `young, then at the median: sample ${t} is used`);
  assert.is(f.add(sample(t++ * S, 999n, 900)), null, 'settled: slower than the median, and the best was used already');
  const med = f.add(sample(t++ * S, 50n, 100))!;
  assert.is(med.offsetNs, 50n, 'at or under the median: the new sample itself is used');
  const best = f.add(sample(t++ * S, 10n, 50))!;
  assert.is(best.offsetNs, 10n);
  assert.is(best.delayNs, 50);
  assert.ok(best.jitterNs > 0);
  for (let i = 0; i < 8; i++) f.add(sample(t++ * S, 0n, 1000));
  assert.is(f.size, 8, 'eight stages');
});

/** Feeds `n` samples at 1 s; returns how many of the last `tail` the filter passed on. */
function feed(f: ClockFilter, n: number, tail: number, make: () => { offsetNs: number; delayNs: number }): number {
  let passed = 0;
  for (let i = 1; i <= n; i++) {
    const m = make();
    const out = f.add(sample(BigInt(i) * 1_000_000_000n, BigInt(Math.round(m.offsetNs)), m.delayNs));
    if (out && i > n - tail) passed++;
  }
  return passed;
}

test('filter: the slower half passes where delay does not predict error (jitter on both legs), not where one leg queues', () => {
  const rng = seededRng(testSeed(11));
  const u = () => (rng.float() * 2 - 1) * 50_000;
  const even = new ClockFilter();
  // 100 µs ± 50 µs on each leg: the sum is the delay, half the difference the offset's error.
  const evenPassed = feed(even, 300, 100, () => {
    const fwd = u(),
      rev = u();
    return { offsetNs: (fwd - rev) / 2, delayNs: 200_000 + fwd + rev };
  });
  assert.ok(even.slowHalfPasses, 'symmetric jitter: the slower half is as good');
  assert.ok(evenPassed >= 90, `symmetric jitter: nearly every sample used (${evenPassed} of 100)`);
  const queued = new ClockFilter();
  // Queueing on one leg or the other: a sample is skewed by half its extra delay.
  const queuedPassed = feed(queued, 300, 100, () => {
    const q = -30_000 * Math.log(1 - rng.float());
    return { offsetNs: (rng.float() < 0.5 ? q : -q) / 2 + u() / 25, delayNs: 100_000 + q };
  });
  assert.not.ok(queued.slowHalfPasses, 'one-leg queueing: the slower half is held back');
  assert.ok(queuedPassed <= 70, `one-leg queueing: about the quicker half used (${queuedPassed} of 100)`);
});

test('filter: a young source has nothing held back; a settled one has the slower half held while it is worse', () => {
  /** How many samples in a row are held back when a run of slow ones follows `settle` quick ones. */
  const heldInARow = (settle: number): number => {
    const f = new ClockFilter();
    let i = 0;
    for (; i < settle; i++) f.add(sample(BigInt(i) * 1_000_000_000n, 0n, 100_000));
    let held = 0;
    while (f.add(sample(BigInt(i++) * 1_000_000_000n, 0n, 1_000_000)) === null) held++;
    return held;
  };
  assert.is(heldInARow(4), 0, 'young: its regression needs every sample for a frequency from a handful');
  assert.is(heldInARow(27), 0, 'still young: 4 burst samples and 23 judged of 32');
  assert.is(heldInARow(80), 4, "settled: until the slow ones are the register's median");
});

test('filter: dispersion of older stages grows by PHI per second', () => {
  const f = new ClockFilter();
  f.add(sample(0n, 0n, 100));
  const out = f.add(sample(100_000_000_000n, 0n, 50))!;
  // newest (1000 ns, weight 1/2) + older (1000 + 15 ppm x 100 s, weight 1/4)
  assert.is(Math.round(out.dispersionNs), Math.round(1000 / 2 + (1000 + 1.5e6) / 4));
});

const c = (id: string, offsetNs: number, rootDistanceNs: number, jitterNs = 1000, stratum = 2): Candidate => ({
  id,
  offsetNs,
  rootDistanceNs,
  jitterNs,
  stratum,
});

test('intersection: a majority interval is found; a lone falseticker is rejected', () => {
  const cands = [c('a', 0, 1e6), c('b', 2e5, 1e6), c('c', -1e5, 1e6), c('liar', 50e6, 1e6)];
  const iv = intersect(cands)!;
  assert.ok(iv.low <= 0 && iv.high >= 0);
  const sel = selectSources(cands)!;
  assert.equal(sel.falsetickers, ['liar']);
  assert.not.ok(sel.survivors.includes('liar'));
  assert.ok(Math.abs(sel.offsetNs) < 2e5);
});

test('intersection: two disjoint sources have no majority', () => {
  assert.is(intersect([c('a', 0, 1e6), c('b', 10e6, 1e6)]), null);
  assert.is(selectSources([c('a', 0, 1e6), c('b', 10e6, 1e6)]), null);
});

test('selection: the lowest stratum, then the shortest distance, is the system peer', () => {
  const sel = selectSources([c('far', 0, 5e6, 1000, 2), c('near', 1000, 1e6, 1000, 2), c('s1', 500, 4e6, 1000, 1)])!;
  assert.is(sel.systemPeer, 's1');
  const sel2 = selectSources([c('far', 0, 5e6), c('near', 1000, 1e6)])!;
  assert.is(sel2.systemPeer, 'near');
});

test('selection: sources unfit by distance or stratum are not candidates', () => {
  assert.is(selectSources([c('x', 0, 2e9)]), null);
  assert.is(selectSources([c('x', 0, 1e6, 1000, 16)]), null);
});

test('clustering keeps at least three survivors and drops the widest outlier first', () => {
  const seed = testSeed(11);
  const rng = seededRng(seed);
  const cands = Array.from({ length: 6 }, (_, i) => c(`s${i}`, (rng.float() - 0.5) * 2e4, 5e6, 100));
  cands.push(c('wide', 3e6, 5e6, 100));
  const sel = selectSources(cands)!;
  assert.ok(sel.survivors.length >= 3, `seed ${seed}`);
  assert.not.ok(sel.survivors.includes('wide'), `seed ${seed}: the outlier is clustered out`);
});

test.run();
