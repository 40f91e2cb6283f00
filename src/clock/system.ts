// The system clock driver: the machine's own clock through adjtimex. Used
// only when a config says `[clock] mode = "system"`, with the kernel port of
// src/clock/kernel.ts, whose creation is what enables clock writes in this
// process (src/native/clock.ts).
//
// Slews go through the kernel frequency, not the kernel PLL (as chrony's
// generic driver does): for a slew the frequency is the base plus a slew
// rate for a computed time, then the base again. The clock's path is then a
// line we chose, so how much of a slew is done is known at any instant and
// cooked time is exact. The PLL instead moves a fixed share of its offset
// into the next second's ticks once a second, so what it reports as pending
// runs up to a second ahead of what the clock has done. Steps go to
// ADJ_SETOFFSET, the error bounds, STA_UNSYNC and the leap warning to
// ADJ_STATUS.
import type { ClockCommand, ClockDriver, ClockModel } from './driver.js';
import { MAX_ERROR_US, MAX_FREQ_PPM, MAX_SLEW_OFFSET_NS } from './kernel-limits.js';
import { slewDoneNs, slewDurationNs } from './slew.js';

/** What the driver asks of the kernel: adjtimex through the addon (src/clock/kernel.ts), a fake in unit tests. */
export interface KernelPort {
  realtimeNs(): bigint;
  /** The start state: frequency `freqPpm`, nothing pending, unsynchronised (resetKernelClock). */
  reset(freqPpm: number): void;
  setFrequencyPpm(freqPpm: number): void;
  step(offsetNs: bigint): void;
  /** A correction the kernel finishes alone after we are gone (adjtime's single shot). */
  slewOnce(offsetNs: number): void;
  setStatus(s: { synced: boolean; maxErrorUs: number; estErrorUs: number; leap: 'none' | 'insert' | 'delete' }): void;
}

/**
 * A slew lasts at least this long, so its rate stays in proportion to the
 * correction: the kernel takes a new frequency at its next tick, and a switch
 * a tick late costs rate × tick (10 ns at 1 ppm and 10 ms; 5 µs at 500 ppm).
 */
export const MIN_SLEW_NS = 1_000_000_000;
/** What a slew leaves undone when it ends late or early is slewed again unless under this. */
const SETTLE_FLOOR_NS = 50;

export interface SystemClockOptions {
  /** Frequency correction to start from (the saved drift), ppm. */
  freqPpm?: number;
  /** Fastest slew, ppm (default 500, as the virtual clock's; the kernel's ±500 ppm bounds base + slew too). */
  maxSlewRatePpm?: number;
  kernel: KernelPort;
}

interface Slew {
  startSysNs: bigint;
  totalNs: number;
  /** ns of correction per 1e6 ns of this clock's own (slewed) time. */
  ratePpm: number;
}

export class SystemClock implements ClockDriver {
  #stepEpoch = 0;
  readonly mode = 'system' as const;
  readonly #k: KernelPort;
  readonly #maxSlewPpm: number;
  /** The frequency correction the discipline asked for, without any slew. */
  #baseFreqPpm: number;
  #slew: Slew | null = null;

  constructor(o: SystemClockOptions) {
    this.#k = o.kernel;
    this.#maxSlewPpm = o.maxSlewRatePpm ?? 500;
    this.#baseFreqPpm = clampFreq(o.freqPpm ?? 0);
    this.#k.reset(this.#baseFreqPpm);
  }

  nodeNs(sysNs: bigint): bigint {
    return sysNs;
  }

  /** What the current slew has still to do, ns (signed). */
  #pendingNs(sysNs: bigint): number {
    const s = this.#slew;
    return s ? s.totalNs - slewDoneNs(s.totalNs, s.ratePpm, Number(sysNs - s.startSysNs)) : 0;
  }

  /** The slew still to come counts as done. */
  cookedNs(sysNs: bigint): bigint {
    return sysNs + BigInt(Math.round(this.#pendingNs(sysNs)));
  }

  freqPpm(): number {
    return this.#baseFreqPpm;
  }

  /** The kernel's time is read at each write, not taken from the caller's earlier reading. */
  apply(cmd: ClockCommand, _sysNs?: bigint): void {
    switch (cmd.type) {
      case 'step': {
        this.#stepEpoch++;
        // Cooked time counted the slew in progress as done: the step carries it.
        const now = this.#k.realtimeNs();
        const pending = this.#pendingNs(now);
        this.#startSlew(0, now);
        this.#k.step(cmd.offsetNs + BigInt(Math.round(pending)));
        break;
      }
      case 'slew': {
        const now = this.#k.realtimeNs();
        this.#startSlew(this.#pendingNs(now) + cmd.offsetNs, now);
        break;
      }
      case 'frequency': {
        this.#baseFreqPpm = clampFreq(cmd.freqPpm);
        // The slew's rate is bounded by what the kernel allows around the new base.
        const now = this.#k.realtimeNs();
        this.#startSlew(this.#pendingNs(now), now);
        break;
      }
      case 'status':
        this.#k.setStatus({
          synced: cmd.synced,
          maxErrorUs: Math.min(MAX_ERROR_US, Math.round(cmd.maxErrorNs / 1000)),
          estErrorUs: Math.min(MAX_ERROR_US, Math.round(cmd.estErrorNs / 1000)),
          leap: cmd.leap === 1 ? 'insert' : cmd.leap === 2 ? 'delete' : 'none',
        });
        break;
    }
  }

  /** Sets the kernel frequency to the base plus a rate that does `totalNs` in MIN_SLEW_NS or more; none for a crumb. */
  #startSlew(totalNs: number, nowNs: bigint): void {
    if (Math.abs(totalNs) < SETTLE_FLOOR_NS) {
      this.#slew = null;
      this.#k.setFrequencyPpm(this.#baseFreqPpm);
      return;
    }
    const sign = Math.sign(totalNs);
    const room = Math.min(this.#maxSlewPpm, MAX_FREQ_PPM - sign * this.#baseFreqPpm);
    const ratePpm = sign * Math.max(1e-3, Math.min(room, (Math.abs(totalNs) / MIN_SLEW_NS) * 1e6));
    this.#k.setFrequencyPpm(this.#baseFreqPpm + ratePpm);
    // The slew's progress is read off the clock it speeds up: per ns of that clock it does a little less.
    this.#slew = { startSysNs: nowNs, totalNs, ratePpm: ratePpm / (1 + (this.#baseFreqPpm + ratePpm) * 1e-6) };
  }

  model(sysNs: bigint): ClockModel {
    return { refSysNs: sysNs, refNodeNs: sysNs, freqPpm: 0, stepEpoch: this.#stepEpoch };
  }

  /** Someone else stepped the kernel clock (or the kernel repeated a second): stamps from before are on another time line. */
  noteExternalStep(): void {
    this.#stepEpoch++;
  }

  slewEndSysNs(): bigint | null {
    const s = this.#slew;
    return s ? s.startSysNs + slewDurationNs(s.totalNs, s.ratePpm) : null;
  }

  /**
   * The slew's time is up: back to the base frequency. The timer that calls
   * this runs late by some milliseconds, and the kernel kept slewing until
   * now: the overshoot (rate × lateness) is slewed back the same way.
   */
  settle(_sysNs?: bigint): void {
    const s = this.#slew;
    if (!s) return;
    const now = this.#k.realtimeNs();
    const end = this.slewEndSysNs()!;
    if (now < end) return;
    const doneNs = Number(now - s.startSysNs) * s.ratePpm * 1e-6;
    this.#startSlew(s.totalNs - doneNs, now);
  }

  /**
   * Stopping: the kernel keeps the base frequency, and finishes what the slew
   * had left by itself (adjtime's single shot, 500 ppm), so a daemon restarted
   * after a pause finds the clock where it was meant to be.
   */
  release(_sysNs?: bigint): void {
    if (!this.#slew) return;
    const now = this.#k.realtimeNs();
    const pending = this.#pendingNs(now);
    this.#startSlew(0, now);
    if (Math.abs(pending) >= 1000) this.#k.slewOnce(Math.max(-MAX_SLEW_OFFSET_NS, Math.min(MAX_SLEW_OFFSET_NS, Math.round(pending))));
  }
}

function clampFreq(ppm: number): number {
  return Math.max(-MAX_FREQ_PPM, Math.min(MAX_FREQ_PPM, ppm));
}
