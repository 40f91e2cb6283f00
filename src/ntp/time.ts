// NTP fixed-point time, the BigInt reference. native/ntp_time.h implements the
// same functions; test/native/ntp-time.test.ts holds the two to bit-for-bit
// agreement. All values are integers: Unix nanoseconds (int64) and raw NTP
// words (uint64 timestamps, uint32 short format). Never `Date`.

/** Seconds from 1900-01-01 (NTP prime epoch) to 1970-01-01 (Unix epoch). */
export const NTP_UNIX_DELTA_S = 2208988800n;
export const NS_PER_S = 1_000_000_000n;
const ERA_S = 1n << 32n;
const U64 = 1n << 64n;

/** Decoded value of the NTP timestamp 0, "unset" (RFC 5905 §7.3), in batch outputs. */
export const UNSET_NS = -(1n << 63n);

/**
 * Default era pivot: 2036-02-07T06:28:16Z, the era 0 -> 1 boundary. Decoding
 * against it yields [1968-01-20T03:14:08Z, 2104-02-26T09:42:24Z), the rule of
 * RFC 4330 §3, and keeps the 1970 factory date of RTC-less boards in range.
 */
export const DEFAULT_PIVOT_NS = (ERA_S - NTP_UNIX_DELTA_S) * NS_PER_S;

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}
function floorMod(a: bigint, b: bigint): bigint {
  return a - floorDiv(a, b) * b;
}
/** ns in [0, 1e9) -> 32-bit fraction, rounded to nearest, ties up. */
function nsToFrac32(ns: bigint): bigint {
  return (ns * ERA_S + 500_000_000n) / NS_PER_S;
}
/** 32-bit fraction -> ns, rounded to nearest, ties up (may be 1e9). */
function frac32ToNs(frac: bigint): bigint {
  return (frac * NS_PER_S + (1n << 31n)) >> 32n;
}

/**
 * Unix ns -> NTP timestamp (RFC 5905 §6, era number dropped). An instant that
 * would encode as 0 (the 1900 and 2036 era starts) encodes as 1: 0 is "unset".
 */
export function unixNsToNtp64(unixNs: bigint): bigint {
  const s = floorDiv(unixNs, NS_PER_S);
  const rem = unixNs - s * NS_PER_S;
  const v = (floorMod(s + NTP_UNIX_DELTA_S, ERA_S) << 32n) + nsToFrac32(rem);
  return v === 0n ? 1n : v;
}

/**
 * NTP timestamp -> Unix ns: the instant whose seconds lie within
 * [pivot - 2^31 s, pivot + 2^31 s). Returns null for 0 ("unset").
 */
export function ntp64ToUnixNs(ntp: bigint, pivotNs: bigint = DEFAULT_PIVOT_NS): bigint | null {
  if (ntp === 0n) return null;
  const lowS = floorDiv(pivotNs, NS_PER_S) - (1n << 31n);
  const baseS = (ntp >> 32n) - NTP_UNIX_DELTA_S;
  const unixS = lowS + floorMod(baseS - lowS, ERA_S);
  return unixS * NS_PER_S + frac32ToNs(ntp & 0xffff_ffffn);
}

/** Signed duration ns -> signed 32.32 two's complement (RFC 5905 §6), modulo 2^64. */
export function durationNsToNtp64(ns: bigint): bigint {
  const s = floorDiv(ns, NS_PER_S);
  const rem = ns - s * NS_PER_S;
  return floorMod((s << 32n) + nsToFrac32(rem), U64);
}

/** Signed 32.32 -> duration ns. */
export function ntp64ToDurationNs(v: bigint): bigint {
  const s = BigInt.asIntN(64, v) >> 32n;
  return s * NS_PER_S + frac32ToNs(v & 0xffff_ffffn);
}

/** ns -> NTP short format, unsigned 16.16 (RFC 5905 §6); clamps to [0, 0xFFFFFFFF]. */
export function nsToNtpShort(ns: bigint): number {
  if (ns <= 0n) return 0;
  if (ns >= 65536n * NS_PER_S) return 0xffff_ffff;
  const s = ns / NS_PER_S;
  const frac16 = ((ns - s * NS_PER_S) * 65536n + 500_000_000n) / NS_PER_S;
  const v = (s << 16n) + frac16;
  return v > 0xffff_ffffn ? 0xffff_ffff : Number(v);
}

/** NTP short format -> ns. */
export function ntpShortToNs(v: number): bigint {
  const b = BigInt(v >>> 0);
  return (b >> 16n) * NS_PER_S + (((b & 0xffffn) * NS_PER_S + 32768n) >> 16n);
}
