// The clock filter (RFC 5905 §10): the last eight samples of one source; the
// one with the lowest delay is the most trustworthy, and its offset goes on.
import { PHI, MAX_DISPERSION_NS, type Sample } from '../ntp/wire.js';

export const FILTER_STAGES = 8;
/** A new source's first samples (an iburst's worth) all pass: there is nothing to judge them by yet. */
const BURST_STAGES = 4;
/** Samples each half of the register must have seen before the slower half may be let through. */
const GATE_MIN_SEEN = 16;
/** Memory of the per-half mean squares, in samples (exponential). */
const GATE_MEMORY = 32;
/**
 * The slower half passes while its mean square offset stays under this many times the quicker
 * half's. With equal weights, adding n samples of variance v_s to n of v_q helps while v_s < 3·v_q;
 * 2 leaves room for the bias a slower sample can carry besides its spread.
 */
const GATE_RATIO = 2;
/**
 * A young source (fewer judged samples than this since it started or the
 * filter was reset: until each half could have been seen GATE_MIN_SEEN times)
 * has nothing held back. Its regression fits a frequency from a handful of
 * samples, and holding half of them back doubles that frequency's variance
 * while the clock free-runs on it: on the 100 µs ± 50 µs link, early samples
 * 50–100 µs high and then four of five 16–57 µs low pulled it to −8.5 ppm,
 * and with five slower ones held in the next nine seconds the clock ran 63
 * µs off (37 µs with them used). The discipline's own delay weighting takes
 * up the queueing defence once it has eight points.
 */
const YOUNG_SAMPLES = 2 * GATE_MIN_SEEN;

interface Stage {
  offsetNs: bigint;
  delayNs: number;
  dispersionNs: number;
  localNs: bigint;
}

export interface FilterOutput {
  offsetNs: bigint;
  delayNs: number;
  /** ε: weighted dispersion of the register (RFC 5905 §10 eq. for ε). */
  dispersionNs: number;
  /** ψ: RMS of offset differences to the chosen sample. */
  jitterNs: number;
  /** Local time of the chosen sample. */
  localNs: bigint;
}

export class ClockFilter {
  #stages: Stage[] = [];
  #lastUsedNs: bigint | null = null;
  /** Per half of the register by delay (at or under its median, over it): mean square offset (ns²) and count. */
  #quick = { ms: 0, seen: 0 };
  #slow = { ms: 0, seen: 0 };

  /** Whether samples slower than the register's median currently pass (see add). */
  get slowHalfPasses(): boolean {
    return this.#quick.seen >= GATE_MIN_SEEN && this.#slow.seen >= GATE_MIN_SEEN && this.#slow.ms < GATE_RATIO * this.#quick.ms;
  }

  get size(): number {
    return this.#stages.length;
  }

  /**
   * Adds a sample. Returns the filter output, or null when the sample is not
   * to be used. RFC 5905 §10 outputs only when the lowest-delay sample is
   * newer than the last one used (never a sample twice); at a fixed poll that
   * is about one sample in eight. We also pass on a new sample whose delay is
   * no more than the register's median: the regression discipline does the
   * averaging, so every well-delayed sample should reach it. The slower half
   * is held back while it is worse: where queueing on one leg is what varies
   * the delay, it is skewed by up to half its extra delay, but where delay
   * varies evenly on both legs (symmetric jitter) it is as good as the
   * quicker half, and holding it back only halves the samples. So the filter
   * keeps each half's mean square offset (against the clock as corrected
   * since: once locked, each sample's error) and lets the slower half through
   * while its mean square is under GATE_RATIO times the quicker half's. A new
   * source's first BURST_STAGES samples all pass: nothing to judge them by;
   * and while young (YOUNG_SAMPLES) nothing is held back.
   */
  add(s: Sample): FilterOutput | null {
    const prev = this.#stages[0];
    if (prev) {
      const ageS = Math.max(0, Number(s.localNs - prev.localNs)) / 1e9;
      for (const st of this.#stages) st.dispersionNs = Math.min(MAX_DISPERSION_NS, st.dispersionNs + PHI * ageS * 1e9);
    }
    const fresh: Stage = { offsetNs: s.offsetNs, delayNs: s.delayNs, dispersionNs: s.dispersionNs, localNs: s.localNs };
    this.#stages.unshift(fresh);
    if (this.#stages.length > FILTER_STAGES) this.#stages.pop();
    const sorted = [...this.#stages].sort((a, b) => a.delayNs - b.delayNs || a.dispersionNs - b.dispersionNs);
    const median = sorted[(sorted.length - 1) >> 1]!.delayNs;
    // A new source's first stages all pass and teach the gate nothing: there is no register to judge by.
    const judged = sorted.length > BURST_STAGES;
    const slow = judged && fresh.delayNs > median;
    if (judged) {
      const half = slow ? this.#slow : this.#quick;
      const off = Number(fresh.offsetNs);
      half.ms += (off * off - half.ms) / Math.min(++half.seen, GATE_MEMORY);
    }
    let best = sorted[0]!;
    if (this.#lastUsedNs !== null && best.localNs <= this.#lastUsedNs) {
      // The best was used already: the new sample goes on unless it is of the slower half while that is held back.
      const young = this.#quick.seen + this.#slow.seen < YOUNG_SAMPLES;
      if (slow && !young && !this.slowHalfPasses) return null;
      best = fresh;
    }
    this.#lastUsedNs = best.localNs;
    let eps = 0;
    sorted.forEach((st, i) => (eps += st.dispersionNs / 2 ** (i + 1)));
    let sq = 0;
    for (const st of sorted) sq += Number(st.offsetNs - best.offsetNs) ** 2;
    const jitterNs = sorted.length > 1 ? Math.sqrt(sq / (sorted.length - 1)) : 0;
    return { offsetNs: best.offsetNs, delayNs: best.delayNs, dispersionNs: eps, jitterNs, localNs: best.localNs };
  }

  /**
   * The local clock was corrected by `phaseNs` at `atNs` and its frequency
   * by `freqPpm`: re-express stored offsets against the corrected clock.
   */
  correct(phaseNs: bigint, freqPpm: number, atNs: bigint): void {
    for (const st of this.#stages) {
      st.offsetNs -= phaseNs + BigInt(Math.round(freqPpm * 1e-6 * Number(st.localNs - atNs)));
    }
  }

  reset(): void {
    this.#stages = [];
    this.#lastUsedNs = null;
    this.#quick = { ms: 0, seen: 0 };
    this.#slow = { ms: 0, seen: 0 };
  }
}
