import { readFileSync } from 'node:fs';

const CAP_SYS_TIME = 25n;

/** Whether this process could change the system clock (CAP_SYS_TIME effective). */
export function hasSysTime(): boolean {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('CapEff:'));
  return line !== undefined && ((BigInt(`0x${line.slice(7).trim()}`) >> CAP_SYS_TIME) & 1n) === 1n;
}
