// The Linux kernel's adjtimex limits, shared by the system driver's logic
// (src/clock/system.ts) and the addon wrapper that checks every write
// (src/native/clock.ts). Constants only: no addon, no I/O.

/** Kernel frequency limit: ±500 ppm (MAXFREQ). */
export const MAX_FREQ_PPM = 500;
/** The kernel's error bound ceiling (NTP_PHASE_LIMIT, 16 s): past it the clock counts as unsynchronised. */
export const MAX_ERROR_US = 16_000_000;
/** The kernel PLL and adjtime accept offsets up to ±0.5 s (MAXPHASE). */
export const MAX_SLEW_OFFSET_NS = 500_000_000;
