// The clock filter (RFC 5905 §10): the last eight samples of one source; the
// one with the lowest delay is the most trustworthy, and its offset goes on.
import { PHI, MAX_DISPERSION_NS, type Sample } from '../ntp/wire.js';

export const FILTER_STAGES = 8;
/** A new source's first samples (an iburst's worth) all pass: there is nothing to judge them by yet. */
const BURST_STAGES = 4;

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

  get size(): number {
    return this.#stages.length;
  }

  /**
   * Adds a sample. Returns the filter output, or null when the sample is not
   * to be used. RFC 5905 §10 outputs only when the lowest-delay sample is
   * newer than the last one used (never a sample twice); at a fixed poll that
   * is about one sample in eight. We also pass on a new sample whose delay is
   * no more than the register's median: the regression discipline does the
   * averaging, so every well-delayed sample should reach it, while the
   * slower half (the ones queueing delay skews) is still held back. A new
   * source's first BURST_STAGES samples all pass: nothing to judge them by.
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
    let best = sorted[0]!;
    if (this.#lastUsedNs !== null && best.localNs <= this.#lastUsedNs) {
      // Too few stages to judge by (a new source): use what comes.
      if (sorted.length > BURST_STAGES && fresh.delayNs > median) return null;
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
  }
}
