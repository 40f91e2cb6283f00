// Clock discipline: combined offsets in, clock commands out. Pure.
//
// Method (chrony-style regression rather than the RFC 5905 §11.3 PLL/FLL):
// the discipline keeps the last `maxSamples` (local time, offset, delay)
// points, re-expressed after every correction as if that correction had
// always been in force. A least-squares line through them, weighted by
// excess delay when the residuals show that delay predicts error and with a
// clear skew of offset against excess delay removed (#fit), gives the
// residual frequency error (slope) and the present offset (intercept). The
// intercept is applied as a slew, or a step above the step threshold. The
// frequency the window implies (the one in force plus the slope) is shrunk
// towards the prior (the saved drift, or the frequency when the samples were
// last forgotten) by its own uncertainty, d·d²/(d²+se²) for d its distance
// from the prior, so that a few noisy samples cannot throw the frequency
// around. Shrinking the total, not each update's increment, matters: an
// increment shrunk towards the frequency in force keeps whatever the first,
// noisiest fits put there. Against a PLL this converges in a handful of
// samples instead of many time constants, which a board that just booted at
// 1970 needs.
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
  /** Round-trip delay of the sample behind the estimate (weights the fit); 0 when unknown. */
  delayNs?: number;
}

interface Point {
  x: bigint;
  y: number;
  delayNs: number;
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
  /** What the frequency estimate is shrunk towards (ppm). */
  #priorFreqPpm: number;
  #updates = 0;
  #points: Point[] = [];
  /** The offset of a sample held as a possible phase jump (#phaseJump), or null. */
  #held: number | null = null;

  constructor(o: DisciplineOptions = {}) {
    this.stepThresholdNs = o.stepThresholdNs ?? 128e6;
    this.#firstStepNs = o.firstStepThresholdNs ?? this.stepThresholdNs;
    this.#stepLimit = o.stepLimitUpdates ?? -1;
    this.#maxFreq = o.maxFreqPpm ?? 500;
    this.#maxSamples = o.maxSamples ?? 64;
    this.#freqPpm = o.initialFreqPpm ?? 0;
    this.#priorFreqPpm = this.#freqPpm;
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
    this.#held = null;
    this.#priorFreqPpm = this.#freqPpm;
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
      this.#points.push({ x: e.localNs + e.offsetNs, y: 0, delayNs: e.delayNs ?? 0 });
      this.#trim();
      commands.push({ type: 'step', offsetNs: e.offsetNs });
      commands.push(this.#status(e));
      return { commands, phaseNs: e.offsetNs, freqDeltaPpm: 0, stepped: true };
    }

    const y = Number(e.offsetNs);
    const jump = this.#phaseJump(y);
    // One sample far off the line: a spike, or the first of a jump. It waits for the next.
    if (jump === 'hold') return { commands: [this.#status(e)], phaseNs: 0n, freqDeltaPpm: 0, stepped: false };
    // The source's time moved (it was stepped itself, say): the window moves with it, as it does
    // with a step of ours, so the line keeps its slope and the jump is slewed out on the same
    // frequency. Fitted as it stood, an 80 ms jump read as a frequency error and ran the
    // frequency into its limit (500 ppm in a few samples).
    if (jump !== null) for (const p of this.#points) p.y += jump;
    this.#points.push({ x: e.localNs, y, delayNs: e.delayNs ?? 0 });
    this.#trim();
    const fit = this.#fit(e.localNs, (this.#freqPpm - this.#priorFreqPpm) * 1e-6);
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

  /**
   * Whether a new offset is a phase jump of the source. The window's points
   * are residuals against the clock as corrected, so a new one is expected
   * near 0; one beyond JUMP_SIGMAS robust standard deviations (and
   * JUMP_FLOOR_NS) is held, and a second on the same side, near the first,
   * confirms a jump (ntpd's spike state waits likewise): returns its size
   * (the two samples' mean). Otherwise the held one was a spike and is dropped.
   */
  #phaseJump(y: number): number | 'hold' | null {
    const held = this.#held;
    this.#held = null;
    if (this.#points.length < JUMP_MIN_POINTS) return null;
    const sigma = 1.4826 * median(this.#points.map((p) => Math.abs(p.y)));
    const limit = Math.max(JUMP_SIGMAS * sigma, JUMP_FLOOR_NS);
    if (Math.abs(y) <= limit) return null;
    if (held !== null && Math.sign(held) === Math.sign(y) && Math.abs(y - held) <= Math.max(limit, Math.abs(held) / 4)) return (held + y) / 2;
    this.#held = y;
    return 'hold';
  }

  #status(e: Estimate): ClockCommand {
    return { type: 'status', synced: true, maxErrorNs: e.errorNs, estErrorNs: e.errorNs / 2, leap: e.leap };
  }

  #trim(): void {
    while (this.#points.length > this.#maxSamples) this.#points.shift();
  }

  /**
   * Least squares y = a + b (x - x0), a at x0 = now; the frequency it implies
   * (fromPrior + b, against the prior) shrunk by b's standard error; weighted
   * by excess delay when the residuals say delay matters.
   * A sample queued on one leg is skewed by up to half its extra delay, so
   * where queueing is what varies the delay, the residual variance grows
   * with the excess over the window's least delay: var ≈ v0 + k·excess², with
   * k up to 1/4. Where delay varies evenly on both legs (symmetric jitter)
   * the excess says nothing about the error, k comes out ≈ 0, and every
   * point keeps its full weight. So k is measured: an unweighted fit, then
   * residual² regressed on excess², then the fit again weighted 1/(v0 + k·e²).
   * fromPrior: the frequency in force minus the prior, as a fraction (ns/ns).
   */
  #fit(x0: bigint, fromPrior: number): { intercept: number; slopePpm: number } {
    const pts = this.#points;
    const n = pts.length;
    const last = pts[n - 1]!;
    if (n < 3) return { intercept: last.y, slopePpm: 0 };
    const xs = pts.map((p) => Number(p.x - x0));
    const ys = pts.map((p) => p.y);
    const ws = new Array<number>(n).fill(1);
    let line = fitLine(xs, ys, ws);
    if (line === null) return { intercept: last.y, slopePpm: 0 };
    if (n >= MIN_WEIGHTED_POINTS) {
      const minDelay = Math.min(...pts.map((p) => p.delayNs));
      const es = pts.map((p) => p.delayNs - minDelay);
      const e2 = es.map((e) => e * e);
      const r2 = ys.map((y, i) => (y - line!.a - line!.b * xs[i]!) ** 2);
      const me2 = mean(e2),
        mr2 = mean(r2);
      let see = 0,
        ser = 0;
      for (let i = 0; i < n; i++) {
        see += (e2[i]! - me2) ** 2;
        ser += (e2[i]! - me2) * (r2[i]! - mr2);
      }
      const k = see > 0 ? Math.max(0, Math.min(0.25, ser / see)) : 0;
      if (k > 0) {
        const v0 = Math.max(MIN_VARIANCE_NS2, mr2 - k * me2);
        // Weights may not rest the line on fewer than MIN_EFFECTIVE_POINTS: the young window's
        // least-delayed sample is one sample's noise all the same. Halving k spreads them.
        for (let kk = k; ; kk /= 2) {
          for (let i = 0; i < n; i++) ws[i] = v0 / (v0 + kk * e2[i]!);
          if (effectiveCount(ws) >= MIN_EFFECTIVE_POINTS - 1e-9) break;
        }
        line = fitLine(xs, ys, ws) ?? line;
      }
      // Delay that one leg takes more often than the other also skews the
      // mean: offset ≈ a + b·x + c·excess. Where c is clearly there, every
      // point is moved to the least delay before the final fit.
      const c = skewPerExcess(xs, es, ys, ws);
      if (c !== 0) {
        for (let i = 0; i < n; i++) ys[i] = ys[i]! - c * es[i]!;
        line = fitLine(xs, ys, ws) ?? line;
      }
    }
    const { a: a0, b, se2 } = line;
    const d = fromPrior + b;
    const shrunk = d * ((d * d) / (d * d + se2 || 1)) - fromPrior;
    // The line passes through the weighted means: pivot it there to the shrunk slope.
    const a = a0 + (b - shrunk) * line.mx;
    return { intercept: a, slopePpm: shrunk * 1e6 };
  }
}

/**
 * A phase jump is looked for once the window has this many points (their
 * spread is the scale; the 1 ms floor guards a young window's small one). A
 * jump in a window of 4 to 8 points ran the frequency to its limit too.
 */
const JUMP_MIN_POINTS = 4;
/** How many robust standard deviations off the line a phase jump is. */
const JUMP_SIGMAS = 10;
/** ...and at least this far (1 ms): on a quiet LAN ten deviations are a few µs, which queueing reaches. */
const JUMP_FLOOR_NS = 1_000_000;

function median(xs: number[]): number {
  const a = [...xs].sort((p, q) => p - q);
  const m = a.length >> 1;
  return a.length % 2 ? a[m]! : (a[m - 1]! + a[m]!) / 2;
}

/** Fewer points than this say too little about how variance grows with delay. */
const MIN_WEIGHTED_POINTS = 8;
/** The fewest points (effectiveCount) a weighted fit may rest on (fewer than MIN_WEIGHTED_POINTS). */
const MIN_EFFECTIVE_POINTS = 4;
/** (1 µs)²: the floor of the delay-independent variance, about the clock's precision. */
const MIN_VARIANCE_NS2 = 1e6;

/** A skew this many standard errors from 0 begins to count (see skewPerExcess). */
const SKEW_T = 4;

/**
 * Weighted least squares y = a + b·x + c·e (e: excess delay); returns c,
 * bounded by what is physical (a sample can be skewed by at most half its
 * excess: |c| ≤ 1/2) and shrunk continuously by its t statistic,
 * c·(1 − SKEW_T²/t²), 0 below t = SKEW_T. Moving every point by c·excess
 * shifts the intercept by c times the mean excess (40 µs on a 100 µs
 * jitter), so c may not switch on and off at a threshold: it did, and the
 * clock jumped by that much for as long as t hovered about it.
 */
function skewPerExcess(xs: number[], es: number[], ys: number[], ws: number[]): number {
  const n = xs.length;
  let sw = 0,
    mx = 0,
    me = 0,
    my = 0;
  for (let i = 0; i < n; i++) {
    sw += ws[i]!;
    mx += ws[i]! * xs[i]!;
    me += ws[i]! * es[i]!;
    my += ws[i]! * ys[i]!;
  }
  mx /= sw;
  me /= sw;
  my /= sw;
  let sxx = 0,
    see = 0,
    sxe = 0,
    sxy = 0,
    sey = 0;
  for (let i = 0; i < n; i++) {
    const x = xs[i]! - mx,
      e = es[i]! - me,
      y = ys[i]! - my,
      w = ws[i]!;
    sxx += w * x * x;
    see += w * e * e;
    sxe += w * x * e;
    sxy += w * x * y;
    sey += w * e * y;
  }
  const det = sxx * see - sxe * sxe;
  if (!(det > 0)) return 0;
  const b = (see * sxy - sxe * sey) / det;
  const c = (sxx * sey - sxe * sxy) / det;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += ws[i]! * (ys[i]! - my - b * (xs[i]! - mx) - c * (es[i]! - me)) ** 2;
  const dof = effectiveCount(ws) - 3;
  if (!(dof > 0)) return 0;
  const seC = Math.sqrt((ss / dof) * (sxx / det));
  const t2 = (c / seC) ** 2;
  if (!(t2 > SKEW_T * SKEW_T)) return 0;
  return Math.max(-0.5, Math.min(0.5, c)) * (1 - (SKEW_T * SKEW_T) / t2);
}

/**
 * How many points a weighted fit rests on, (Σw)²/Σw²: n for equal weights,
 * ≈ 1 when one point outweighs the rest. Residual degrees of freedom count
 * from this, not from n: weights that fall on two of nine points (a young
 * window whose least-delayed samples stand out) leave residuals near 0 there,
 * and with n − 2 the slope's standard error came out 3.7 ppm on a 19.7 ppm
 * slope that was one sample's noise.
 */
function effectiveCount(ws: number[]): number {
  let s = 0,
    s2 = 0;
  for (const w of ws) {
    s += w;
    s2 += w * w;
  }
  return (s * s) / s2;
}

function mean(xs: number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Weighted least squares y = a + b x; a at x = 0, the weighted mean of x, and b's squared standard error (as a t variable's). */
function fitLine(xs: number[], ys: number[], ws: number[]): { a: number; b: number; se2: number; mx: number } | null {
  const n = xs.length;
  let sw = 0,
    sx = 0,
    sy = 0;
  for (let i = 0; i < n; i++) {
    sw += ws[i]!;
    sx += ws[i]! * xs[i]!;
    sy += ws[i]! * ys[i]!;
  }
  const mx = sx / sw,
    my = sy / sw;
  let sxx = 0,
    sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += ws[i]! * (xs[i]! - mx) ** 2;
    sxy += ws[i]! * (xs[i]! - mx) * (ys[i]! - my);
  }
  if (sxx === 0) return null;
  const b = sxy / sxx;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += ws[i]! * (ys[i]! - (my + b * (xs[i]! - mx))) ** 2;
  const dof = effectiveCount(ws) - 2;
  // The slope's error over its estimated standard error is t-distributed, variance dof/(dof − 2):
  // a young window's se² is itself noisy, and taken at face value it let the frequency swing to
  // 4 ppm on six samples of 40 µs noise. Capped at 3 (dof ≤ 3) so that a board far off frequency
  // still gets it within seconds (the simulator's 16 boards within 1 ms in 5 s).
  const tVariance = dof > 3 ? dof / (dof - 2) : 3;
  return { a: my - b * mx, b, se2: dof > 0 ? (ss / dof / sxx) * tVariance : Infinity, mx };
}
