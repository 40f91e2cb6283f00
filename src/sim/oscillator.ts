// A simulated board's system clock: true time plus an initial offset, a
// frequency error and a random-walk wander (clknetsim's model). Read it at
// non-decreasing true times; the drift is integrated in 1 s steps.
import type { Rng } from '../util/rng.js';

export interface OscillatorOptions {
  /** System clock reading at true time tNs. */
  sysAtNs: bigint;
  tNs: number;
  freqPpm: number;
  /** Random-walk step of the frequency per √s, ppm (default 0.01). */
  wanderPpm?: number;
}

const STEP_NS = 1e9;

export class Oscillator {
  readonly #sys0: bigint;
  readonly #t0: number;
  readonly #wander: number;
  readonly #rng: Rng;
  #tLast: number;
  #driftNs = 0;
  #freqPpm: number;

  constructor(o: OscillatorOptions, rng: Rng) {
    this.#sys0 = o.sysAtNs;
    this.#t0 = o.tNs;
    this.#tLast = o.tNs;
    this.#freqPpm = o.freqPpm;
    this.#wander = o.wanderPpm ?? 0.01;
    this.#rng = rng;
  }

  get freqPpm(): number {
    return this.#freqPpm;
  }

  /** The system clock at true time tNs (sim ns). */
  sysNs(tNs: number): bigint {
    while (tNs - this.#tLast >= STEP_NS) {
      this.#driftNs += STEP_NS * this.#freqPpm * 1e-6;
      this.#tLast += STEP_NS;
      this.#freqPpm += this.#wander * gaussian(this.#rng);
    }
    const part = Math.max(0, tNs - this.#tLast) * this.#freqPpm * 1e-6;
    return this.#sys0 + BigInt(Math.round(tNs - this.#t0 + this.#driftNs + part));
  }
}

/** Box-Muller, one value per call. */
export function gaussian(rng: Rng): number {
  const u = Math.max(rng.float(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.float());
}
