// Validated entry points to the native NTP fixed-point conversions
// (native/ntp_time.h), through the tools addon. Same contract as the reference in src/ntp/time.ts.
import { DEFAULT_PIVOT_NS, UNSET_NS } from '../ntp/time.js';
import { tools } from './tools-binding.js';

const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
const U64_MAX = (1n << 64n) - 1n;
/** Pivots beyond ±2^62 ns (about 1824..2116) could push results past int64. */
const PIVOT_LIMIT = 1n << 62n;

function checkBig(name: string, v: unknown, min: bigint, max: bigint): bigint {
  if (typeof v !== 'bigint') throw new TypeError(`${name} must be a bigint, got ${typeof v}`);
  if (v < min || v > max) throw new RangeError(`${name} out of range: ${v}`);
  return v;
}
function checkPivot(pivotNs: bigint): bigint {
  return checkBig('pivotNs', pivotNs, -PIVOT_LIMIT, PIVOT_LIMIT);
}

export function unixNsToNtp64(unixNs: bigint): bigint {
  return tools().unixNsToNtp64(checkBig('unixNs', unixNs, I64_MIN, I64_MAX));
}

/** null for the NTP timestamp 0 ("unset"). */
export function ntp64ToUnixNs(ntp: bigint, pivotNs: bigint = DEFAULT_PIVOT_NS): bigint | null {
  const v = tools().ntp64ToUnixNs(checkBig('ntp', ntp, 0n, U64_MAX), checkPivot(pivotNs));
  return v === UNSET_NS ? null : v;
}

export function durationNsToNtp64(ns: bigint): bigint {
  return tools().durationNsToNtp64(checkBig('ns', ns, I64_MIN, I64_MAX));
}

export function ntp64ToDurationNs(v: bigint): bigint {
  return tools().ntp64ToDurationNs(checkBig('v', v, 0n, U64_MAX));
}

export function nsToNtpShort(ns: bigint): number {
  return tools().nsToNtpShort(checkBig('ns', ns, I64_MIN, I64_MAX));
}

export function ntpShortToNs(v: number): bigint {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new RangeError(`short value out of range: ${v}`);
  return tools().ntpShortToNs(v);
}

function checkPair(input: unknown, output: unknown, inType: abstract new (...args: never[]) => unknown, outType: abstract new (...args: never[]) => unknown): void {
  if (!(input instanceof inType)) throw new TypeError(`input must be a ${inType.name}`);
  if (!(output instanceof outType)) throw new TypeError(`output must be a ${outType.name}`);
  if ((input as BigInt64Array).length !== (output as BigInt64Array).length) {
    throw new RangeError('input and output must have the same length');
  }
}

/** Converts every element of `input` into `output` (same length). */
export function unixNsToNtp64Batch(input: BigInt64Array, output: BigUint64Array): void {
  checkPair(input, output, BigInt64Array, BigUint64Array);
  tools().unixNsToNtp64Batch(input, output);
}

/** Unset (0) inputs become UNSET_NS in `output`. */
export function ntp64ToUnixNsBatch(
  input: BigUint64Array,
  output: BigInt64Array,
  pivotNs: bigint = DEFAULT_PIVOT_NS,
): void {
  checkPair(input, output, BigUint64Array, BigInt64Array);
  tools().ntp64ToUnixNsBatch(input, output, checkPivot(pivotNs));
}
