// The system clock through the addon: reads for everyone, writes (adjtimex)
// only for the system clock driver. Writes are refused until the process has
// called enableSystemClockWrites(), which only `[clock] mode = "system"`
// does: a bug elsewhere cannot reach the real clock. Without CAP_SYS_TIME the
// kernel refuses too, and the error says so (code EPERM).
import { binding, type TimexState, type TimexWrite } from './binding.js';

const K = binding.adjtimexConstants as Record<
  | 'ADJ_OFFSET' | 'ADJ_FREQUENCY' | 'ADJ_MAXERROR' | 'ADJ_ESTERROR' | 'ADJ_STATUS'
  | 'ADJ_TIMECONST' | 'ADJ_SETOFFSET' | 'ADJ_NANO' | 'STA_PLL' | 'STA_INS' | 'STA_DEL'
  | 'STA_UNSYNC' | 'STA_FREQHOLD' | 'STA_NANO',
  number
>;

/** Kernel frequency limit: ±500 ppm (adjtimex MAXFREQ). */
export const MAX_FREQ_PPM = 500;
/** The kernel PLL accepts offsets up to ±0.5 s (MAXPHASE). */
export const MAX_SLEW_OFFSET_NS = 500_000_000;
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

/** Hands an offset to the kernel PLL, which slews it out (ADJ_OFFSET|ADJ_NANO, STA_PLL). */
export function slewOffsetNs(offsetNs: number): KernelClock {
  checkInt('offsetNs', offsetNs, MAX_SLEW_OFFSET_NS);
  const cur = readKernelClock();
  return write({
    modes: K.ADJ_OFFSET | K.ADJ_NANO | K.ADJ_STATUS,
    offset: offsetNs,
    status: (cur.status | K.STA_PLL | K.STA_NANO) & ~K.STA_FREQHOLD,
  });
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
  checkInt('maxErrorUs', s.maxErrorUs, 16_000_000);
  checkInt('estErrorUs', s.estErrorUs, 16_000_000);
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
