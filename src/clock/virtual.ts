// The virtual clock: node time = system REALTIME + offset + frequency ×
// elapsed, plus a slew in progress. The default driver: it lets a node play a
// board that booted at 1970 and be disciplined like a real clock, while the
// machine's own clock is never touched. Pure: every method takes the system
// time it applies to.
import type { ClockCommand, ClockDriver, ClockModel } from './driver.js';
import { slewDoneNs, slewDurationNs } from './slew.js';

export interface VirtualClockOptions {
  /** Node time at `atSysNs` (e.g. a factory date). Default: the system time itself. */
  startNs?: bigint;
  atSysNs: bigint;
  freqPpm?: number;
  /** Slew rate for corrections, ppm (default 500, the kernel's adjtime rate). */
  slewRatePpm?: number;
}

export class VirtualClock implements ClockDriver {
  readonly mode = 'virtual' as const;
  #refSys: bigint;
  #refNode: bigint;
  #freqPpm: number;
  #slewRemainNs = 0; // signed, still to apply from #refSys on
  #stepEpoch = 0;
  readonly #slewRatePpm: number;

  constructor(o: VirtualClockOptions) {
    this.#refSys = o.atSysNs;
    this.#refNode = o.startNs ?? o.atSysNs;
    this.#freqPpm = o.freqPpm ?? 0;
    this.#slewRatePpm = o.slewRatePpm ?? 500;
  }

  #slewDoneNs(sysNs: bigint): number {
    return this.#slewRemainNs === 0 ? 0 : slewDoneNs(this.#slewRemainNs, this.#slewRatePpm, Number(sysNs - this.#refSys));
  }

  nodeNs(sysNs: bigint): bigint {
    const elapsed = sysNs - this.#refSys;
    const drift = Math.round(Number(elapsed) * this.#freqPpm * 1e-6 + this.#slewDoneNs(sysNs));
    return this.#refNode + elapsed + BigInt(drift);
  }

  cookedNs(sysNs: bigint): bigint {
    return this.nodeNs(sysNs) + BigInt(Math.round(this.#slewRemainNs - this.#slewDoneNs(sysNs)));
  }

  freqPpm(): number {
    return this.#freqPpm;
  }

  /** Re-anchors the model at sysNs, keeping node time continuous. */
  #rebase(sysNs: bigint): void {
    const node = this.nodeNs(sysNs);
    this.#slewRemainNs -= this.#slewDoneNs(sysNs);
    this.#refSys = sysNs;
    this.#refNode = node;
  }

  /**
   * The system clock was stepped by jumpNs under us (src/clock/jump.ts):
   * move the anchor with it, so node time at any real instant is unchanged.
   */
  absorbSystemJump(jumpNs: bigint): void {
    this.#refSys += jumpNs;
    this.#stepEpoch++;
  }

  apply(cmd: ClockCommand, sysNs: bigint): void {
    switch (cmd.type) {
      case 'step':
        this.#stepEpoch++;
        this.#rebase(sysNs);
        // A step supersedes any slew: cooked time already counted it.
        this.#refNode += cmd.offsetNs + BigInt(Math.round(this.#slewRemainNs));
        this.#slewRemainNs = 0;
        break;
      case 'slew':
        this.#rebase(sysNs);
        this.#slewRemainNs += cmd.offsetNs;
        break;
      case 'frequency':
        this.#rebase(sysNs);
        this.#freqPpm = cmd.freqPpm;
        break;
      case 'status':
        break;
    }
  }

  model(sysNs: bigint): ClockModel {
    const slewing = this.#slewRemainNs !== 0 && this.slewEndSysNs()! > sysNs;
    const rate = slewing ? Math.sign(this.#slewRemainNs) * this.#slewRatePpm : 0;
    return { refSysNs: sysNs, refNodeNs: this.nodeNs(sysNs), freqPpm: this.#freqPpm + rate, stepEpoch: this.#stepEpoch };
  }

  slewEndSysNs(): bigint | null {
    if (this.#slewRemainNs === 0) return null;
    return this.#refSys + slewDurationNs(this.#slewRemainNs, this.#slewRatePpm);
  }

  /** The model carries a slew to its end by itself. */
  settle(_sysNs?: bigint): void {}

  release(_sysNs?: bigint): void {}
}
