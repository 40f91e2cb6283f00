// The system clock driver's logic against a simulated kernel clock (the
// kernel tier runs it against a real one): slews by frequency, exact cooked
// time, late timers made good, steps that carry the slew in progress, the
// kernel's ±500 ppm bound, and the start and stop states.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { SystemClock, type KernelPort } from '../../src/clock/system.js';

/** A kernel clock: REALTIME advances by (1 + freq) per ns of true time; frequency changes take effect at once. */
class FakeKernel implements KernelPort {
  sys = 1_800_000_000_000_000_000n;
  freq = 0;
  resets: number[] = [];
  steps: bigint[] = [];
  oneShots: number[] = [];
  status: Parameters<KernelPort['setStatus']>[0] | null = null;
  /** True time elapsed, ns. */
  trueNs = 0;
  #frac = 0;

  advance(ns: number): void {
    this.trueNs += ns;
    const exact = ns * (1 + this.freq * 1e-6) + this.#frac;
    const whole = Math.floor(exact);
    this.#frac = exact - whole;
    this.sys += BigInt(whole);
  }
  realtimeNs(): bigint {
    return this.sys;
  }
  reset(freqPpm: number): void {
    this.resets.push(freqPpm);
    this.freq = freqPpm;
  }
  setFrequencyPpm(freqPpm: number): void {
    assert.ok(Math.abs(freqPpm) <= 500, `the kernel takes ±500 ppm at most: ${freqPpm}`);
    this.freq = freqPpm;
  }
  step(offsetNs: bigint): void {
    this.steps.push(offsetNs);
    this.sys += offsetNs;
  }
  slewOnce(offsetNs: number): void {
    this.oneShots.push(offsetNs);
  }
  setStatus(s: Parameters<KernelPort['setStatus']>[0]): void {
    this.status = s;
  }
}

/** Runs the clock until its slew is done, calling settle() `lateNs` after each end, as the daemon's timer would. */
function runSlews(k: FakeKernel, c: SystemClock, lateNs: number, stepNs = 1e6): void {
  for (let i = 0; i < 100; i++) {
    const end = c.slewEndSysNs();
    if (end === null) return;
    while (k.sys < end) k.advance(stepNs);
    k.advance(lateNs);
    c.settle(k.sys);
  }
  assert.unreachable('slews did not settle');
}

test('start: the kernel is reset to the saved drift; stop mid-slew leaves the base frequency and the rest to the kernel', () => {
  const k = new FakeKernel();
  const c = new SystemClock({ kernel: k, freqPpm: 12.5 });
  assert.equal(k.resets, [12.5]);
  assert.is(c.freqPpm(), 12.5);
  c.apply({ type: 'slew', offsetNs: 5_000_000 }, k.sys);
  assert.ok(k.freq > 12.5);
  k.advance(2e9); // 2 s at 487.5 ppm (the kernel's 500 less the base): ~0.98 ms of the 5 done
  c.release(k.sys);
  assert.is(k.freq, 12.5);
  assert.is(c.slewEndSysNs(), null);
  assert.is(k.oneShots.length, 1);
  assert.ok(Math.abs(k.oneShots[0]! - (5_000_000 - 2e9 * 487.5e-6)) < 1000, `left to the kernel: ${k.oneShots[0]} ns`);
});

test('a slew runs at a rate in proportion to it, cooked time counts it done, and the clock ends where asked', () => {
  for (const offsetNs of [20_000, -3_000_000, 40_000_000]) {
    const k = new FakeKernel();
    const c = new SystemClock({ kernel: k, freqPpm: 0 });
    // The truth the clock is slewed towards: REALTIME as it was, plus the offset.
    const truth0 = k.sys + BigInt(offsetNs);
    c.apply({ type: 'slew', offsetNs }, k.sys);
    const rate = k.freq;
    assert.ok(Math.abs(rate) <= 500);
    if (Math.abs(offsetNs) < 500_000)
      assert.ok(Math.abs(Math.abs(rate) - Math.abs(offsetNs) / 1e3) < 1e-6, `a small slew lasts 1 s: ${rate} ppm for ${offsetNs} ns`);
    // Halfway: cooked time already shows the whole correction.
    const end = c.slewEndSysNs()!;
    const half = Number(end - k.sys) / 2;
    k.advance(half);
    const expected = truth0 + BigInt(Math.round(k.trueNs));
    assert.ok(Math.abs(Number(c.cookedNs(k.sys) - expected)) < 2, `cooked mid-slew off by ${Number(c.cookedNs(k.sys) - expected)} ns`);
    // The daemon's timer is 3 ms late: the kernel overshoots, and the overshoot is slewed back.
    runSlews(k, c, 3e6);
    assert.is(k.freq, 0);
    const err = Number(k.sys - (truth0 + BigInt(Math.round(k.trueNs))));
    assert.ok(Math.abs(err) < 100, `offset ${offsetNs}: the clock ended ${err} ns from where it was asked to be`);
  }
});

test('the kernel bound: base + slew stays within ±500 ppm', () => {
  const k = new FakeKernel();
  const c = new SystemClock({ kernel: k, freqPpm: 480 });
  c.apply({ type: 'slew', offsetNs: 100_000_000 }, k.sys);
  assert.ok(k.freq <= 500 && k.freq > 480, `${k.freq}`);
  c.apply({ type: 'frequency', freqPpm: -490 }, k.sys);
  // The slew still runs, now with the room the new base leaves.
  assert.ok(k.freq <= 10 && k.freq > -490, `${k.freq}`);
  assert.is(c.freqPpm(), -490);
});

test('a step carries the slew in progress; a crumb is no slew', () => {
  const k = new FakeKernel();
  const c = new SystemClock({ kernel: k });
  c.apply({ type: 'slew', offsetNs: 2_000_000 }, k.sys);
  k.advance(1_000_000_000); // half done at 1000 ppm -> 500 ppm cap: 0.5 ms of 2 ms done
  const pending = Number(c.cookedNs(k.sys) - k.sys);
  assert.ok(pending > 1_000_000 && pending < 2_000_000, `${pending}`);
  c.apply({ type: 'step', offsetNs: 10_000_000_000n }, k.sys);
  assert.is(k.steps.length, 1);
  assert.ok(Math.abs(Number(k.steps[0]! - 10_000_000_000n) - pending) < 2, `step ${k.steps[0]}`);
  assert.is(k.freq, 0);
  assert.is(c.slewEndSysNs(), null);
  c.apply({ type: 'slew', offsetNs: 20 }, k.sys);
  assert.is(c.slewEndSysNs(), null, 'under 50 ns there is nothing to slew');
});

test('status goes to the kernel in µs, capped at 16 s, with the leap warning', () => {
  const k = new FakeKernel();
  const c = new SystemClock({ kernel: k });
  c.apply({ type: 'status', synced: true, maxErrorNs: 1_234_567, estErrorNs: 600_000, leap: 1 }, k.sys);
  assert.equal(k.status, { synced: true, maxErrorUs: 1235, estErrorUs: 600, leap: 'insert' });
  c.apply({ type: 'status', synced: false, maxErrorNs: 16e9, estErrorNs: 16e9, leap: 3 }, k.sys);
  assert.equal(k.status, { synced: false, maxErrorUs: 16_000_000, estErrorUs: 16_000_000, leap: 'none' });
});

test.run();
