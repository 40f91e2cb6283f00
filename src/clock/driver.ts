// One clock interface, several drivers (shared/STYLE.md): `virtual` (the
// default; a free-running model on top of the system clock), `system`
// (adjtimex; the only driver that changes the machine's clock) and the
// simulator's. Cores never call a driver: the discipline returns
// ClockCommands and the daemon applies them.

export type ClockCommand =
  /** Jump the clock by offsetNs (node time += offsetNs). */
  | { type: 'step'; offsetNs: bigint }
  /** Correct by offsetNs gradually; the clock never runs backwards. */
  | { type: 'slew'; offsetNs: number }
  /** Set the frequency correction (absolute, ppm; + runs faster). */
  | { type: 'frequency'; freqPpm: number }
  /** Synchronisation status and error bounds, and the leap warning (RFC 5905 §7.3 LI). */
  | { type: 'status'; synced: boolean; maxErrorNs: number; estErrorNs: number; leap: number };

/** The linear piece of a clock: node = refNode + (sys - refSys) * (1 + freqPpm/1e6). */
export interface ClockModel {
  refSysNs: bigint;
  refNodeNs: bigint;
  freqPpm: number;
  /** Counts the steps of the node clock: stamps from before a step are on another time line (interleaved mode drops them). */
  stepEpoch?: number;
}

export interface ClockDriver {
  readonly mode: 'virtual' | 'system';
  /** Node time at a system REALTIME reading: what the node serves and shows. */
  nodeNs(sysNs: bigint): bigint;
  /**
   * Node time with every correction already asked for counted as done. The
   * protocol cores measure against this, so a slew still in progress does not
   * look like a new offset.
   */
  cookedNs(sysNs: bigint): bigint;
  /** Current frequency correction, ppm. */
  freqPpm(): number;
  apply(cmd: ClockCommand, sysNs: bigint): void;
  /** The piece the native server maps kernel stamps through, valid until the next apply() or slewEndSysNs. */
  model(sysNs: bigint): ClockModel;
  /** When the current slew ends (system ns), or null: the model changes then, and settle() is due. */
  slewEndSysNs(): bigint | null;
  /** Called at (or after) slewEndSysNs(): a driver that must act when a slew ends does it here. */
  settle(sysNs: bigint): void;
  /** The daemon is stopping: leave the clock free-running on its frequency, no slew in progress. */
  release(sysNs: bigint): void;
}
