// The system clock through the addon: reads for everyone, writes (adjtimex)
// only for the system clock driver. Writes are refused until the process has
// called enableSystemClockWrites(), which only `[clock] mode = "system"`
// does: a bug elsewhere cannot reach the real clock. Without CAP_SYS_TIME the
// kernel refuses too, and the error says so (code EPERM).
import { MAX_ERROR_US, MAX_FREQ_PPM, MAX_SLEW_OFFSET_NS } from '../clock/kernel-limits.js';
import { binding, type TimexState, type TimexWrite } from './binding.js';

const K = binding.adjtimexConstants as Record<
  | 'ADJ_OFFSET' | 'ADJ_FREQUENCY' | 'ADJ_MAXERROR' | 'ADJ_ESTERROR' | 'ADJ_STATUS'
  | 'ADJ_TIMECONST' | 'ADJ_SETOFFSET' | 'ADJ_NANO' | 'ADJ_OFFSET_SINGLESHOT' | 'STA_PLL' | 'STA_INS' | 'STA_DEL'
  | 'STA_UNSYNC' | 'STA_FREQHOLD' | 'STA_NANO',
  number
>;

export { MAX_ERROR_US, MAX_FREQ_PPM, MAX_SLEW_OFFSET_NS };
/** adjtimex `freq` is ppm scaled by 2^16. */
const FREQ_SCALE = 65536;

export type Leap = 'none' | 'insert' | 'delete';

export interface KernelClock {
  /** adjtimex return value: TIME_OK 0, TIME_INS 1, TIME_DEL 2, TIME_OOP 3, TIME_WAIT 4, TIME_ERROR 5. */
  state: number;
  status: number;
  synced: boolean;
  pll: boolean;
  leap: Leap;
  offsetNs: number;
  freqPpm: number;
  maxErrorUs: number;
  estErrorUs: number;
  tickUs: number;
  taiOffsetS: number;
  timeNs: bigint;
}

export class ClockError extends Error {
  constructor(message: string, readonly code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ClockError';
  }
}

export function realtimeNs(): bigint {
  return binding.clockRealtimeNs();
}

export function monotonicRawNs(): bigint {
  return binding.clockMonotonicRawNs();
}

function toKernelClock(t: TimexState): KernelClock {
  const leap: Leap = t.status & K.STA_INS ? 'insert' : t.status & K.STA_DEL ? 'delete' : 'none';
  return {
    state: t.state,
    status: t.status,
    synced: (t.status & K.STA_UNSYNC) === 0,
    pll: (t.status & K.STA_PLL) !== 0,
    leap,
    offsetNs: t.offsetNs,
    freqPpm: t.freqScaled / FREQ_SCALE,
    maxErrorUs: t.maxErrorUs,
    estErrorUs: t.estErrorUs,
    tickUs: t.tickUs,
    taiOffsetS: t.tai,
    timeNs: t.timeNs,
  };
}

/** adjtimex with no modes: needs no privilege, changes nothing. */
export function readKernelClock(): KernelClock {
  return toKernelClock(binding.adjtimexRead());
}

let writesEnabled = false;

/** Lets this process change the system clock (the system driver's opt-in). */
export function enableSystemClockWrites(): void {
  writesEnabled = true;
}

function write(w: TimexWrite): KernelClock {
  if (!writesEnabled) {
    throw new ClockError('system clock writes are disabled (clock mode is not "system")', 'ERR_CLOCK_WRITES_DISABLED');
  }
  try {
    return toKernelClock(binding.adjtimexWrite(w));
  } catch (e) {
    const code = (e as { code?: string }).code ?? 'EUNKNOWN';
    const hint = code === 'EPERM' ? ' (changing the system clock needs CAP_SYS_TIME)' : '';
    throw new ClockError(`adjtimex failed: ${code}${hint}`, code, { cause: e });
  }
}

function checkInt(name: string, v: number, limit: number): void {
  if (!Number.isInteger(v) || Math.abs(v) > limit) throw new RangeError(`${name} must be an integer within ±${limit}: ${v}`);
}

/**
 * Hands an offset to the kernel PLL, which slews it out (ADJ_OFFSET|ADJ_NANO,
 * STA_PLL) for `clocktower sync`'s one-shot slew. STA_FREQHOLD keeps the PLL
 * from also changing the frequency: a one-shot correction is phase only.
 */
export function slewOffsetNs(offsetNs: number): KernelClock {
  checkInt('offsetNs', offsetNs, MAX_SLEW_OFFSET_NS);
  const cur = readKernelClock();
  return write({
    modes: K.ADJ_OFFSET | K.ADJ_NANO | K.ADJ_STATUS,
    offset: offsetNs,
    status: cur.status | K.STA_PLL | K.STA_FREQHOLD,
  });
}

/**
 * Puts the kernel clock in the state the system driver starts from, whatever
 * an earlier run (or another daemon) left: no phase correction pending in the
 * PLL or from adjtime(), the PLL off (the driver slews by frequency), the
 * frequency `freqPpm` (the saved drift), no leap pending, and unsynchronised
 * (STA_UNSYNC, error bounds at the 16 s maximum) until a source says otherwise.
 * A daemon killed mid-slew leaves its slew rate in the frequency: this undoes it.
 */
export function resetKernelClock(freqPpm: number): KernelClock {
  if (!Number.isFinite(freqPpm) || Math.abs(freqPpm) > MAX_FREQ_PPM) {
    throw new RangeError(`freqPpm must be within ±${MAX_FREQ_PPM}: ${freqPpm}`);
  }
  // The kernel drops a pending PLL offset only through ADJ_OFFSET with STA_PLL on,
  // and applies what is left of it each second even with the PLL off.
  write({ modes: K.ADJ_STATUS | K.ADJ_OFFSET | K.ADJ_NANO, status: K.STA_PLL | K.STA_FREQHOLD, offset: 0 });
  write({ modes: K.ADJ_OFFSET_SINGLESHOT, offset: 0 }); // adjtime()'s pending correction; must be alone
  return write({
    modes: K.ADJ_STATUS | K.ADJ_FREQUENCY | K.ADJ_MAXERROR | K.ADJ_ESTERROR,
    status: K.STA_UNSYNC,
    freq: Math.round(freqPpm * FREQ_SCALE),
    maxerror: MAX_ERROR_US,
    esterror: MAX_ERROR_US,
  });
}

/**
 * Hands a small correction to the kernel to finish alone, as adjtime(3) does
 * (ADJ_OFFSET_SINGLESHOT, µs, slewed at 500 ppm): what a stopping daemon's
 * slew had left. A later resetKernelClock() drops what is still pending.
 */
export function slewOnceNs(offsetNs: number): KernelClock {
  checkInt('offsetNs', offsetNs, MAX_SLEW_OFFSET_NS);
  return write({ modes: K.ADJ_OFFSET_SINGLESHOT, offset: Math.round(offsetNs / 1000) });
}

/** Sets the kernel frequency correction (ADJ_FREQUENCY). */
export function setFrequencyPpm(freqPpm: number): KernelClock {
  if (!Number.isFinite(freqPpm) || Math.abs(freqPpm) > MAX_FREQ_PPM) {
    throw new RangeError(`freqPpm must be within ±${MAX_FREQ_PPM}: ${freqPpm}`);
  }
  return write({ modes: K.ADJ_FREQUENCY, freq: Math.round(freqPpm * FREQ_SCALE) });
}

/** Steps the clock by `offsetNs` (ADJ_SETOFFSET|ADJ_NANO): the clock jumps. */
export function stepNs(offsetNs: bigint): KernelClock {
  if (typeof offsetNs !== 'bigint') throw new TypeError('offsetNs must be a bigint');
  const sec = offsetNs >= 0n ? offsetNs / 1_000_000_000n : -((-offsetNs + 999_999_999n) / 1_000_000_000n);
  const nsec = Number(offsetNs - sec * 1_000_000_000n); // the kernel wants 0 <= nsec < 1e9
  return write({ modes: K.ADJ_SETOFFSET | K.ADJ_NANO, timeSec: sec, timeNsec: nsec });
}

/** Marks the clock synchronised or not (STA_UNSYNC) with its error bounds, and the leap warning. */
export function setSyncStatus(s: { synced: boolean; maxErrorUs: number; estErrorUs: number; leap?: Leap }): KernelClock {
  checkInt('maxErrorUs', s.maxErrorUs, MAX_ERROR_US);
  checkInt('estErrorUs', s.estErrorUs, MAX_ERROR_US);
  const cur = readKernelClock();
  let status = cur.status & ~(K.STA_UNSYNC | K.STA_INS | K.STA_DEL);
  if (!s.synced) status |= K.STA_UNSYNC;
  if (s.leap === 'insert') status |= K.STA_INS;
  if (s.leap === 'delete') status |= K.STA_DEL;
  return write({
    modes: K.ADJ_STATUS | K.ADJ_MAXERROR | K.ADJ_ESTERROR,
    status,
    maxerror: Math.max(0, s.maxErrorUs),
    esterror: Math.max(0, s.estErrorUs),
  });
}

/**
 * Writes back the frequency just read: a write that changes nothing, so a
 * test can prove the write path (and its EPERM without CAP_SYS_TIME).
 */
export function rewriteCurrentFrequency(): KernelClock {
  const cur = binding.adjtimexRead();
  return write({ modes: K.ADJ_FREQUENCY, freq: cur.freqScaled });
}
