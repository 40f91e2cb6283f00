// The system driver on a real kernel clock (test/helpers/uml.ts), each
// scenario in its own guest against the reference server: frequency and the
// drift file, slew versus step and the time floor, a leap second, and a
// daemon killed or stopped mid-slew.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { testIf } from '../helpers/tools.js';
import { canUseUml, runBoard } from '../helpers/uml.js';

const t = testIf(canUseUml(), 'user-mode Linux guests cannot run here (the reason is above)');

interface KernelState {
  state: number;
  synced: boolean;
  pll: boolean;
  leap: string;
  freqPpm: number;
  maxErrorUs: number;
}
interface Err {
  offsetNs: number;
  delayNs: number;
}
const cliOk = (c: { code: number; out: string }) => assert.is(c.code, 0, c.out);

t(
  "an upstream 50 ppm fast: the frequency written to the kernel converges within 1 ppm (the clock's measured rate within 2), is saved, and carries the clock over a restart",
  async () => {
    interface R {
      waitSync: { code: number; out: string };
      trace: { s: number; basePpm: number; clockPpm: number }[];
      clockPpm60s: number;
      rateSamples: { kept: number; of: number; medianWidthNs: number; maxWidthNs: number };
      errorWindowStart: Err;
      errorBeforeStop: Err;
      firstRun: { exit: { code: number } };
      saved: { freq_ppm: number };
      afterStop: KernelState;
      restartFirstSamplesNs: number[];
      restartFreqPpm: number;
    }
    const r = (await runBoard<R>('drift', 'drift', ['--freq-ppm', '50'], 420_000)).result;
    assert.ok(r, 'the scenario wrote its result');
    cliOk(r.waitSync);
    const last = r.trace.at(-1)!;
    assert.ok(Math.abs(last.basePpm - 50) < 1, `frequency ${last.basePpm} ppm after ${last.s} s (trace ${JSON.stringify(r.trace)})`);
    assert.ok(
      r.trace.slice(-10).every((p) => Math.abs(p.basePpm - 50) < 1),
      'and it stays there',
    );
    // The kernel clock itself runs 50 ppm fast, slews included, measured against its raw clock source over 60 s.
    // Within 2 ppm, not 1: each sample's correction moves the phase by the guest link's noise (tens of µs, once
    // ~100 µs in CI), and the phase moved in the window tilts the line by Δ/60 s. Reads the host delayed are
    // left out of the line (see rateSamples).
    const movedUs = (r.errorBeforeStop.offsetNs - r.errorWindowStart.offsetNs) / 1000;
    assert.ok(
      Math.abs(r.clockPpm60s - 50) < 2,
      `the kernel clock ran at ${r.clockPpm60s} ppm; its error to the upstream moved ${movedUs} µs in the window; reads ${JSON.stringify(r.rateSamples)}`,
    );
    assert.is(r.firstRun.exit.code, 0);
    assert.ok(Math.abs(r.saved.freq_ppm - 50) < 1, `saved drift ${r.saved.freq_ppm}`);
    assert.ok(Math.abs(r.afterStop.freqPpm - r.saved.freq_ppm) < 0.01, 'the stopped daemon left the kernel on the saved frequency');
    assert.ok(Math.abs(r.restartFreqPpm - r.saved.freq_ppm) < 1e-6, `after restart the frequency is the saved drift: ${r.restartFreqPpm}`);
    // Without the saved drift the clock would be ≥ 500 µs off (50 ppm × the 10 s pause alone). With it, the first
    // sample finds the clock where it was left: within 200 µs of the error at the stop (the guest link's noise on
    // one sample under load is tens of µs, once 128 µs in CI).
    const first = r.restartFirstSamplesNs[0]!;
    const moved = first - r.errorBeforeStop.offsetNs;
    assert.ok(Math.abs(moved) < 200_000, `first sample after a 10 s restart: ${first} ns, ${r.errorBeforeStop.offsetNs} ns at the stop`);
  },
);

t('offsets under the step threshold are slewed, never stepped; a step back past the time floor is refused', async () => {
  interface R {
    waitSync: { code: number; out: string };
    beforeJump: { error: Err; kernel: KernelState; baseFreqPpm: number };
    slewing: { kernel: KernelState; error: Err };
    tenSecondsOn: { kernel: KernelState; error: Err };
    steps: { byMs: number }[];
    stepLines: string[];
    floor: { refusals: string[]; steps: { byMs: number }[]; clockMinusFloorS: number; status: { synced: boolean } };
  }
  const r = (await runBoard<R>('slew', 'slew-and-floor', [], 300_000)).result;
  assert.ok(r, 'the scenario wrote its result');
  cliOk(r.waitSync);
  assert.equal(r.steps, [], 'no step of the kernel clock');
  assert.equal(r.stepLines, []);
  // Slewing 50 ms: the kernel runs at base + the slew rate (≤ 500 ppm), 10 s take ~5 ms off.
  const base = r.beforeJump.baseFreqPpm;
  const rate = r.slewing.kernel.freqPpm - base;
  assert.ok(rate > 400 && r.slewing.kernel.freqPpm <= 500, `slew rate ${rate} ppm over base ${base} (the kernel's limit is 500 ppm in all)`);
  const done = r.slewing.error.offsetNs - r.tenSecondsOn.error.offsetNs;
  assert.ok(done > 4e6 && done < 6e6, `slewed ${done} ns in 10 s`);
  assert.ok(r.tenSecondsOn.error.offsetNs > 30e6, 'still slewing, not stepped');
  // The floor: the refusal is logged, the clock was not stepped back, and it stays above the floor.
  assert.ok(r.floor.refusals.length >= 1, 'refused a step back past the floor');
  assert.equal(r.floor.steps, []);
  assert.ok(r.floor.clockMinusFloorS > 3500, `clock − floor ${r.floor.clockMinusFloorS} s`);
});

t("a leap second announced upstream: STA_INS set, 23:59:60 inserted by the kernel, announced on to the board's own clients", async () => {
  interface R {
    waitSync: { code: number; out: string };
    before: { time: string; kernel: KernelState; served: string };
    states: { state: number; time: string }[];
    after: { time: string; kernel: KernelState; error: Err };
  }
  const r = (await runBoard<R>('leap', 'leap', ['--start', '2026-12-31T23:59:25Z', '--leap-at', '2027-01-01T00:00:00Z'], 240_000)).result;
  assert.ok(r, 'the scenario wrote its result');
  cliOk(r.waitSync);
  assert.ok(r.before.time.startsWith('2026-12-31T23:59:'), `synced before midnight: ${r.before.time}`);
  assert.is(r.before.kernel.leap, 'insert', 'STA_INS set');
  const served = JSON.parse(r.before.served) as { leap: string }[];
  assert.is(served[0]!.leap, 'insert', 'the board serves LI = 1 to its clients');
  // adjtimex: TIME_INS (1) -> TIME_OOP (3, the inserted second, shown as 23:59:59 again) -> TIME_WAIT (4).
  const seq = r.states.map((s) => s.state);
  const oop = r.states.find((s) => s.state === 3);
  assert.ok(seq.indexOf(1) >= 0 && seq.indexOf(1) < seq.indexOf(3) && seq.indexOf(3) < seq.indexOf(4), `states ${JSON.stringify(r.states)}`);
  assert.ok(oop!.time.startsWith('2026-12-31T23:59:59'), `the leap second reads 23:59:59 again: ${oop!.time}`);
  // After it, the board and the upstream agree (both inserted it).
  assert.ok(r.after.time.startsWith('2027-01-01T00:00:'));
  assert.ok(Math.abs(r.after.error.offsetNs) < 1e6, `offset after the leap: ${r.after.error.offsetNs} ns`);
});

t(
  'killed mid-slew, the next start puts the kernel back on the saved drift and unsynchronised; SIGTERM mid-slew saves and leaves the base frequency',
  async () => {
    interface R {
      waitSync: { code: number; out: string };
      slewing: KernelState;
      afterKill: KernelState;
      savedAfterKill: { freq_ppm: number };
      restart: { kernel: KernelState; status: { synced: boolean } | null };
      waitSyncAgain: { code: number; out: string };
      slewing2: KernelState;
      termExit: { code: number };
      afterTerm: KernelState;
      savedAfterTerm: { freq_ppm: number; floor_ns: string };
    }
    const r = (await runBoard<R>('kill', 'kill-mid-slew', [], 300_000)).result;
    assert.ok(r, 'the scenario wrote its result');
    cliOk(r.waitSync);
    const base = r.savedAfterKill.freq_ppm;
    assert.ok(r.slewing.freqPpm - base > 400, `slewing at ${r.slewing.freqPpm} ppm over a base of ${base}`);
    assert.ok(Math.abs(r.afterKill.freqPpm - r.slewing.freqPpm) < 0.01, 'a killed daemon leaves the kernel slewing');
    assert.ok(Math.abs(r.restart.kernel.freqPpm - base) < 0.01, `the next start resets it to the saved drift: ${r.restart.kernel.freqPpm} vs ${base}`);
    assert.is(r.restart.kernel.synced, false, 'unsynchronised until the source says otherwise');
    assert.is(r.restart.kernel.pll, false);
    cliOk(r.waitSyncAgain);
    assert.ok(r.slewing2.freqPpm - r.savedAfterTerm.freq_ppm > 400, 'slewing again before SIGTERM');
    assert.is(r.termExit.code, 0);
    assert.ok(Math.abs(r.afterTerm.freqPpm - r.savedAfterTerm.freq_ppm) < 0.01, `SIGTERM left ${r.afterTerm.freqPpm} ppm, saved ${r.savedAfterTerm.freq_ppm}`);
    assert.ok(BigInt(r.savedAfterTerm.floor_ns) > 1_700_000_000_000_000_000n, 'the floor was saved');
  },
);

test.run();
