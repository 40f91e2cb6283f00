// The system clock driver: the machine's own clock through adjtimex. Used
// only when a config says `[clock] mode = "system"`; creating it is what
// enables clock writes in this process (src/native/clock.ts). Slews go to the
// kernel PLL; frequency and status to adjtimex; steps to ADJ_SETOFFSET.
import {
  enableSystemClockWrites,
  MAX_SLEW_OFFSET_NS,
  readKernelClock,
  setFrequencyPpm,
  setSyncStatus,
  slewOffsetNs,
  stepNs,
} from '../native/clock.js';
import { readFileSync } from 'node:fs';

import type { ClockCommand, ClockDriver, ClockModel } from './driver.js';

const CAP_SYS_TIME = 25n;

/** Whether this process may set the clock (CapEff in /proc/self/status), so a caller can say so before trying. */
export function hasCapSysTime(): boolean {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m !== null && ((BigInt(`0x${m[1]}`) >> CAP_SYS_TIME) & 1n) === 1n;
  } catch {
    return false;
  }
}

export class SystemClock implements ClockDriver {
  readonly mode = 'system' as const;

  constructor() {
    enableSystemClockWrites();
  }

  nodeNs(sysNs: bigint): bigint {
    return sysNs;
  }

  /** The kernel PLL's remaining phase correction counts as done. */
  cookedNs(sysNs: bigint): bigint {
    return sysNs + BigInt(Math.round(readKernelClock().offsetNs));
  }

  freqPpm(): number {
    return readKernelClock().freqPpm;
  }

  apply(cmd: ClockCommand): void {
    switch (cmd.type) {
      case 'step':
        stepNs(cmd.offsetNs);
        break;
      case 'slew':
        slewOffsetNs(Math.max(-MAX_SLEW_OFFSET_NS, Math.min(MAX_SLEW_OFFSET_NS, Math.round(cmd.offsetNs))));
        break;
      case 'frequency':
        setFrequencyPpm(cmd.freqPpm);
        break;
      case 'status':
        setSyncStatus({
          synced: cmd.synced,
          maxErrorUs: Math.min(16_000_000, Math.round(cmd.maxErrorNs / 1000)),
          estErrorUs: Math.min(16_000_000, Math.round(cmd.estErrorNs / 1000)),
          leap: cmd.leap === 1 ? 'insert' : cmd.leap === 2 ? 'delete' : 'none',
        });
        break;
    }
  }

  model(sysNs: bigint): ClockModel {
    return { refSysNs: sysNs, refNodeNs: sysNs, freqPpm: 0 };
  }

  slewEndSysNs(): bigint | null {
    return null;
  }
}
