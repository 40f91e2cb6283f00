// The system driver's way to the kernel: adjtimex through the addon
// (src/native/clock.ts). Creating this port is what enables clock writes in
// the process, so only `[clock] mode = "system"` does it.
import { readFileSync } from 'node:fs';

import { enableSystemClockWrites, realtimeNs, resetKernelClock, setFrequencyPpm, setSyncStatus, slewOnceNs, stepNs } from '../native/clock.js';
import type { KernelPort } from './system.js';

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

/** The kernel, writable from now on in this process. */
export function nativeKernel(): KernelPort {
  enableSystemClockWrites();
  return {
    realtimeNs,
    reset: (f) => void resetKernelClock(f),
    setFrequencyPpm: (f) => void setFrequencyPpm(f),
    step: (o) => void stepNs(o),
    slewOnce: (o) => void slewOnceNs(o),
    setStatus: (s) => void setSyncStatus(s),
  };
}
