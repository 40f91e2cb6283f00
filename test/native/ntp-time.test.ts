// Native fixed point (native/ntp_time.h) against the BigInt reference, bit for
// bit: on the edges, and on 100,000 seeded random values of each kind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import * as N from '../../src/native/ntp-time.js';
import * as R from '../../src/ntp/time.js';
import { seededRng } from '../../src/util/rng.js';
import { testSeed } from '../helpers/seed.js';

const S = 1_000_000_000n;
const ERA1 = 2085978496n * S;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

const EDGE_INSTANTS = [
  0n, 1n, -1n, 999_999_999n, 500_000_000n, S, -S,
  -2208988800n * S, -2208988800n * S + 1n, -2208988800n * S - 1n, // 1900
  ERA1 - 1n, ERA1, ERA1 + 1n, // 2036 boundary ± 1 ns
  ERA1 - (1n << 31n) * S, ERA1 + (1n << 31n) * S - 1n, // default window edges
  1795219200n * S, // 2026-11-21
  2147483647n * S, 2147483648n * S, // 2038 (32-bit time_t)
  4102444800n * S, // 2100
  I64_MIN, I64_MAX,
];
const EDGE_NTP = [
  0n, 1n, 2n, 3n, 4n, (1n << 64n) - 1n, 0x80000000n << 32n, (0x80000000n << 32n) - 1n,
  0x7fffffffn << 32n, 2208988800n << 32n, (2208988800n << 32n) | (1n << 22n),
  (2208988800n << 32n) | 0xffffffffn, 0xffffffffn, 0xffffffffn << 32n,
];
const PIVOTS = [R.DEFAULT_PIVOT_NS, 0n, 1795219200n * S, 4102444800n * S, -2208988800n * S, -(1n << 62n), 1n << 62n];
const EDGE_DURATIONS = [0n, 1n, -1n, 999_999_999n, -999_999_999n, S, -S, -1_500_000_000n, I64_MIN, I64_MAX, 2147483647n * S, -2147483648n * S];

test('edges: Unix ns -> NTP timestamp', () => {
  for (const t of EDGE_INSTANTS) assert.is(N.unixNsToNtp64(t), R.unixNsToNtp64(t), `t=${t}`);
});

test('edges: NTP timestamp -> Unix ns, several pivots, 0 is null', () => {
  for (const v of EDGE_NTP) {
    for (const p of PIVOTS) assert.is(N.ntp64ToUnixNs(v, p), R.ntp64ToUnixNs(v, p), `v=${v} pivot=${p}`);
  }
  assert.is(N.ntp64ToUnixNs(0n), null);
});

test('edges: signed durations and short format', () => {
  for (const d of EDGE_DURATIONS) {
    assert.is(N.durationNsToNtp64(d), R.durationNsToNtp64(d), `d=${d}`);
    assert.is(N.nsToNtpShort(d), R.nsToNtpShort(d), `d=${d}`);
  }
  for (const v of EDGE_NTP) assert.is(N.ntp64ToDurationNs(v), R.ntp64ToDurationNs(v), `v=${v}`);
  for (const v of [0, 1, 0x8000, 0xffff, 0x10000, 0xffffffff, 0x7fffffff]) {
    assert.is(N.ntpShortToNs(v), R.ntpShortToNs(v), `short=${v}`);
  }
});

test('100,000 seeded random values of each kind agree bit for bit', () => {
  const seed = testSeed(1121);
  const rng = seededRng(seed);
  for (let i = 0; i < 100_000; i++) {
    const t = BigInt.asIntN(64, rng.u64());
    assert.is(N.unixNsToNtp64(t), R.unixNsToNtp64(t), `seed ${seed} t=${t}`);
    const v = rng.u64();
    const p = PIVOTS[i % PIVOTS.length]!;
    assert.is(N.ntp64ToUnixNs(v, p), R.ntp64ToUnixNs(v, p), `seed ${seed} v=${v}`);
    assert.is(N.ntp64ToDurationNs(v), R.ntp64ToDurationNs(v), `seed ${seed} v=${v}`);
    assert.is(N.durationNsToNtp64(t), R.durationNsToNtp64(t), `seed ${seed} d=${t}`);
    const short = BigInt(rng.int(-1000, 70_000)) * S + BigInt(rng.int(0, 999_999_999));
    assert.is(N.nsToNtpShort(short), R.nsToNtpShort(short), `seed ${seed} ns=${short}`);
    const sv = rng.u32();
    assert.is(N.ntpShortToNs(sv), R.ntpShortToNs(sv), `seed ${seed} short=${sv}`);
  }
});

test('batch forms equal the single forms, unset maps to UNSET_NS', () => {
  const rng = seededRng(testSeed(7));
  const n = 4096;
  const inst = new BigInt64Array(n);
  for (let i = 0; i < n; i++) inst[i] = BigInt.asIntN(64, rng.u64());
  inst.set(EDGE_INSTANTS.map((x) => BigInt.asIntN(64, x)), 0);
  const ntp = new BigUint64Array(n);
  N.unixNsToNtp64Batch(inst, ntp);
  for (let i = 0; i < n; i++) assert.is(ntp[i], R.unixNsToNtp64(inst[i]!));
  ntp[5] = 0n;
  const back = new BigInt64Array(n);
  N.ntp64ToUnixNsBatch(ntp, back, 0n);
  for (let i = 0; i < n; i++) assert.is(back[i], R.ntp64ToUnixNs(ntp[i]!, 0n) ?? R.UNSET_NS);
  assert.is(back[5], R.UNSET_NS);
});

test('arguments are validated in TypeScript before native code sees them', () => {
  assert.throws(() => N.unixNsToNtp64(1 as unknown as bigint), /bigint/);
  assert.throws(() => N.unixNsToNtp64(1n << 63n), /out of range/);
  assert.throws(() => N.ntp64ToUnixNs(-1n), /out of range/);
  assert.throws(() => N.ntp64ToUnixNs(1n, 1n << 63n), /out of range/);
  assert.throws(() => N.ntpShortToNs(-1), /out of range/);
  assert.throws(() => N.unixNsToNtp64Batch(new BigInt64Array(2), new BigUint64Array(3)), /same length/);
  assert.throws(() => N.unixNsToNtp64Batch(new BigUint64Array(2) as unknown as BigInt64Array, new BigUint64Array(2)), /BigInt64Array/);
});

test.run();
