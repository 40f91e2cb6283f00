// A phase correction spread over time at a constant rate: both drivers slew
// this way (the virtual clock in its model, the system driver through the
// kernel frequency), so a slew's progress is known exactly at any instant.
// Pure arithmetic.

/** How much of `totalNs` a slew at `ratePpm` has done `elapsedNs` after it began (signed like totalNs). */
export function slewDoneNs(totalNs: number, ratePpm: number, elapsedNs: number): number {
  const doable = Math.max(0, elapsedNs) * Math.abs(ratePpm) * 1e-6;
  return Math.sign(totalNs) * Math.min(Math.abs(totalNs), doable);
}

/** How long a slew of `totalNs` at `ratePpm` takes, ns (whole, rounded up). */
export function slewDurationNs(totalNs: number, ratePpm: number): bigint {
  return BigInt(Math.ceil(Math.abs(totalNs) / (Math.abs(ratePpm) * 1e-6)));
}
