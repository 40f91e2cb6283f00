// Clock discipline: combined offsets in, clock commands out. Pure.
//
// Method (chrony-style regression rather than the RFC 5905 §11.3 PLL/FLL):
// the discipline keeps the last `maxSamples` (local time, offset) pairs,
// re-expressed after every correction as if that correction had always been
// in force. A least-squares line through them gives the residual frequency
// error (slope) and the present offset (intercept). The intercept is applied
// as a slew, or a step above the step threshold; the slope, shrunk towards 0
// by its own uncertainty (b·b²/(b²+se²)) so that a few noisy samples cannot
// throw the frequency around, is added to the frequency correction. Against
// a PLL this converges in a handful of samples instead of many time
// constants, which a board that just booted at 1970 needs.
import type { ClockCommand } from '../clock/driver.js';

export interface DisciplineOptions {
  /** Offsets above this are stepped, below it slewed. Default 128 ms (as ntpd). */
  stepThresholdNs?: number;
  /**
   * Step threshold for the very first update (default: stepThresholdNs). A
   * board that just booted has no time worth slewing from: chrony's
   * `makestep` idea, so it does not spend minutes slewing 60 ms at 500 ppm.
   */
  firstStepThresholdNs?: number;
  /** Steps are allowed only in the first N updates (chrony's makestep limit); -1: always. Default -1. */
  stepLimitUpdates?: number;
  /** Frequency correction limit, ppm (default ±500, the kernel's). */
  maxFreqPpm?: number;
  /** Regression window (default 64 samples; 32 left a few ppm of frequency noise at a 1 s poll). */
  maxSamples?: number;
  /** Frequency correction at start, ppm (a saved drift). */
  initialFreqPpm?: number;
}

export interface Estimate {
  /** Combined offset: source time − local time. */
  offsetNs: bigint;
  /** Local (cooked) time of the estimate. */
  localNs: bigint;
  /** Root distance of the estimate (error bound). */
  errorNs: number;
  leap: number;
}

interface Point {
  x: bigint;
  y: number;
}

export interface DisciplineResult {
  commands: ClockCommand[];
  /** The phase correction applied (step or slew) and the frequency change, for re-expressing other state. */
  phaseNs: bigint;
  freqDeltaPpm: number;
  stepped: boolean;
}

export class Discipline {
  readonly stepThresholdNs: number;
  readonly #firstStepNs: number;
  readonly #stepLimit: number;
  readonly #maxFreq: number;
  readonly #maxSamples: number;
  #freqPpm: number;
  #updates = 0;
  #points: Point[] = [];

  constructor(o: DisciplineOptions = {}) {
    this.stepThresholdNs = o.stepThresholdNs ?? 128e6;
    this.#firstStepNs = o.firstStepThresholdNs ?? this.stepThresholdNs;
    this.#stepLimit = o.stepLimitUpdates ?? -1;
    this.#maxFreq = o.maxFreqPpm ?? 500;
    this.#maxSamples = o.maxSamples ?? 64;
    this.#freqPpm = o.initialFreqPpm ?? 0;
  }

  /** The frequency correction in force, ppm (what to save as drift). */
  get freqPpm(): number {
    return this.#freqPpm;
  }

  get updates(): number {
    return this.#updates;
  }

  /**
   * Drops the regression's samples but keeps the frequency: the reference
   * changed (a new leader), and offsets to it must not be fitted on one line
   * with offsets to the old one.
   */
  forgetSamples(): void {
    this.#points = [];
  }

  update(e: Estimate): DisciplineResult {
    this.#updates++;
    const commands: ClockCommand[] = [];
    const mayStep = this.#stepLimit < 0 || this.#updates <= this.#stepLimit;
    const abs = e.offsetNs < 0n ? -e.offsetNs : e.offsetNs;

    const threshold = this.#updates === 1 ? this.#firstStepNs : this.stepThresholdNs;
    if (abs > BigInt(Math.round(threshold)) && mayStep) {
      // A step moves the local timescale: past samples move with it.
      for (const p of this.#points) {
        p.x += e.offsetNs;
        p.y -= Number(e.offsetNs);
      }
      this.#points.push({ x: e.localNs + e.offsetNs, y: 0 });
      this.#trim();
      commands.push({ type: 'step', offsetNs: e.offsetNs });
      commands.push(this.#status(e));
      return { commands, phaseNs: e.offsetNs, freqDeltaPpm: 0, stepped: true };
    }

    this.#points.push({ x: e.localNs, y: Number(e.offsetNs) });
    this.#trim();
    const fit = this.#fit(e.localNs);
    const phase = fit.intercept;
    let dFreq = fit.slopePpm;
    const target = Math.max(-this.#maxFreq, Math.min(this.#maxFreq, this.#freqPpm + dFreq));
    dFreq = target - this.#freqPpm;
    // Re-express every point against the corrected clock.
    for (const p of this.#points) p.y -= phase + dFreq * 1e-6 * Number(p.x - e.localNs);
    if (phase !== 0) commands.push({ type: 'slew', offsetNs: phase });
    if (dFreq !== 0) {
      this.#freqPpm = target;
      commands.push({ type: 'frequency', freqPpm: target });
    }
    commands.push(this.#status(e));
    return { commands, phaseNs: BigInt(Math.round(phase)), freqDeltaPpm: dFreq, stepped: false };
  }

  #status(e: Estimate): ClockCommand {
    return { type: 'status', synced: true, maxErrorNs: e.errorNs, estErrorNs: e.errorNs / 2, leap: e.leap };
  }

  #trim(): void {
    while (this.#points.length > this.#maxSamples) this.#points.shift();
  }

  /** Least squares y = a + b (x - x0): a at x0 = now, b shrunk by its standard error. */
  #fit(x0: bigint): { intercept: number; slopePpm: number } {
    const pts = this.#points;
    const n = pts.length;
    const last = pts[n - 1]!;
    if (n < 3) return { intercept: last.y, slopePpm: 0 };
    let sx = 0, sy = 0;
    const xs = pts.map((p) => Number(p.x - x0));
    for (let i = 0; i < n; i++) {
      sx += xs[i]!;
      sy += pts[i]!.y;
    }
    const mx = sx / n, my = sy / n;
    let sxx = 0, sxy = 0;
    for (let i = 0; i < n; i++) {
      sxx += (xs[i]! - mx) ** 2;
      sxy += (xs[i]! - mx) * (pts[i]!.y - my);
    }
    if (sxx === 0) return { intercept: last.y, slopePpm: 0 };
    const b = sxy / sxx;
    let ss = 0;
    for (let i = 0; i < n; i++) ss += (pts[i]!.y - (my + b * (xs[i]! - mx))) ** 2;
    const se2 = ss / (n - 2) / sxx;
    const shrunk = b * ((b * b) / (b * b + se2 || 1));
    const a = my + shrunk * (0 - mx);
    return { intercept: a, slopePpm: shrunk * 1e6 };
  }
}
