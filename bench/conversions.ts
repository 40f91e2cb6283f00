// Micro-benchmark: NTP fixed-point conversion, BigInt reference vs native,
// one call per value vs one batch call per 4096 values. Prints ops/s per
// value for each and the ratios, measured in this one run.
//   npm run bench   (runs under scripts/no-sys-time.sh)
import b from 'benny';

import * as N from '../src/native/ntp-time.js';
import * as R from '../src/ntp/time.js';
import { seededRng } from '../src/util/rng.js';

const BATCH = 4096;
const rng = seededRng(42);
const instants = new BigInt64Array(BATCH);
for (let i = 0; i < BATCH; i++) instants[i] = 1_795_219_200_000_000_000n + BigInt(rng.u32()) * 1000n;
const ntp = new BigUint64Array(BATCH);
N.unixNsToNtp64Batch(instants, ntp);
const outNtp = new BigUint64Array(BATCH);
const outNs = new BigInt64Array(BATCH);

// Per-value throughput: every case converts the whole array once per cycle.
const perValue = new Map<string, number>();
let sink = 0n;

await b.suite(
  'unix ns -> NTP64 and back, 4096 values per op',
  b.add('encode: TS reference, one call per value', () => {
    for (let i = 0; i < BATCH; i++) sink ^= R.unixNsToNtp64(instants[i]!);
  }),
  b.add('encode: native, one call per value', () => {
    for (let i = 0; i < BATCH; i++) sink ^= N.unixNsToNtp64(instants[i]!);
  }),
  b.add('encode: native batch', () => {
    N.unixNsToNtp64Batch(instants, outNtp);
  }),
  b.add('decode: TS reference, one call per value', () => {
    for (let i = 0; i < BATCH; i++) sink ^= R.ntp64ToUnixNs(ntp[i]!)!;
  }),
  b.add('decode: native, one call per value', () => {
    for (let i = 0; i < BATCH; i++) sink ^= N.ntp64ToUnixNs(ntp[i]!)!;
  }),
  b.add('decode: native batch', () => {
    N.ntp64ToUnixNsBatch(ntp, outNs);
  }),
  b.cycle(),
  b.complete((summary) => {
    for (const r of summary.results) perValue.set(r.name, r.ops * BATCH);
  }),
);

const v = (k: string) => perValue.get(k)!;
const fmt = (x: number) => x.toFixed(2);
console.log('\nvalues/s (this run):');
for (const [k, ops] of perValue) console.log(`  ${k.padEnd(44)} ${(ops / 1e6).toFixed(2)} M`);
console.log(
  `ratios encode native/ts=${fmt(v('encode: native, one call per value') / v('encode: TS reference, one call per value'))}` +
    ` batch/ts=${fmt(v('encode: native batch') / v('encode: TS reference, one call per value'))}` +
    ` batch/native=${fmt(v('encode: native batch') / v('encode: native, one call per value'))}`,
);
console.log(
  `ratios decode native/ts=${fmt(v('decode: native, one call per value') / v('decode: TS reference, one call per value'))}` +
    ` batch/ts=${fmt(v('decode: native batch') / v('decode: TS reference, one call per value'))}` +
    ` batch/native=${fmt(v('decode: native batch') / v('decode: native, one call per value'))}`,
);
if (sink === -1n) console.log('');
