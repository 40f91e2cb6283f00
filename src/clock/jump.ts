// Detects a step of the system clock (REALTIME) by comparing how far it moved
// with how far the monotonic clock moved between two readings (the daemon
// reads both at the start of every event). Someone else
// stepping the machine's clock (an operator, a DHCP hook, another daemon)
// must not move a virtual clock: the daemon absorbs the jump into the
// virtual clock's anchor so node time, and the floor under it, carry on.
// Pure: readings in, jump out.

/**
 * Disagreements below this are not jumps: other daemons slew REALTIME by up
 * to 83 ms/s (chrony's maxslewrate), plus scheduling noise between the two
 * reads. A step smaller than this goes through like a slew would.
 */
export const JUMP_MIN_NS = 100_000_000n;
/** ...plus this share of the interval (a long gap between readings slews further). */
const JUMP_PER_INTERVAL = 0.1;

export class JumpDetector {
  #lastSysNs: bigint | null = null;
  #lastMonoNs = 0n;

  /** Forgets the last reading: the daemon stepped the clock itself, and that is no one else's jump. */
  reset(): void {
    this.#lastSysNs = null;
  }

  /** A reading of both clocks; returns the jump (REALTIME moved this much more than monotonic time) or null. */
  observe(sysNs: bigint, monoNs: bigint): bigint | null {
    const prevSys = this.#lastSysNs;
    const prevMono = this.#lastMonoNs;
    this.#lastSysNs = sysNs;
    this.#lastMonoNs = monoNs;
    if (prevSys === null) return null;
    const dMono = monoNs - prevMono;
    const jump = sysNs - prevSys - dMono;
    const limit = JUMP_MIN_NS + BigInt(Math.round(Number(dMono) * JUMP_PER_INTERVAL));
    return jump > limit || jump < -limit ? jump : null;
  }
}

/** adjtimex states during and after an inserted or deleted second: TIME_OOP, TIME_WAIT. */
const LEAP_STATES = new Set([3, 4]);

/** Whether a jump of the system clock is the kernel's own leap second (±1 s, with the kernel in its leap states). */
export function isLeapSecond(jumpNs: bigint, kernelState: number): boolean {
  const off = jumpNs < 0n ? jumpNs + 1_000_000_000n : jumpNs - 1_000_000_000n;
  return LEAP_STATES.has(kernelState) && off < JUMP_MIN_NS && off > -JUMP_MIN_NS;
}
