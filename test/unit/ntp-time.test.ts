// The BigInt reference for NTP fixed point against hand-computed vectors
// (RFC 5905 §6 formats, RFC 4330 §3 era rule) and round-trip properties.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { DEFAULT_PIVOT_NS, durationNsToNtp64, ntp64ToDurationNs, ntp64ToUnixNs, ntpShortToNs, nsToNtpShort, unixNsToNtp64 } from '../../src/ntp/time.js';
import { seededRng } from '../../src/util/rng.js';
import { testSeed } from '../helpers/seed.js';

const S = 1_000_000_000n;
const ERA1_UNIX_S = 2085978496n; // 2036-02-07T06:28:16Z

test('Unix epoch is NTP second 2208988800 (RFC 5905 §6 figure 4)', () => {
  assert.is(unixNsToNtp64(0n), 2208988800n << 32n);
  assert.is(ntp64ToUnixNs(2208988800n << 32n), 0n);
});

test('2026-11-21T00:00:00Z encodes and decodes', () => {
  const unixS = 1795219200n;
  const ntp = unixNsToNtp64(unixS * S);
  assert.is(ntp >> 32n, unixS + 2208988800n);
  assert.is(ntp & 0xffffffffn, 0n);
  assert.is(ntp64ToUnixNs(ntp), unixS * S);
});

test('era 0 -> 1 boundary: 2036-02-07T06:28:16Z wraps to era 1 second 0', () => {
  const at = ERA1_UNIX_S * S;
  assert.is(unixNsToNtp64(at - 1n), (0xffffffffn << 32n) | 0xfffffffcn);
  assert.is(unixNsToNtp64(at), 1n, 'the boundary itself would be 0 ("unset"), so it is sent as 1');
  assert.is(unixNsToNtp64(at + 1n), 4n);
  assert.is(ntp64ToUnixNs(1n), at);
  assert.is(ntp64ToUnixNs(4n), at + 1n);
  assert.is(ntp64ToUnixNs((0xffffffffn << 32n) | 0xfffffffcn), at - 1n);
});

test('zero is "unset" (RFC 5905 §7.3) and 1900-01-01 is never produced as zero', () => {
  assert.is(ntp64ToUnixNs(0n), null);
  assert.is(unixNsToNtp64(-2208988800n * S), 1n);
});

test('default pivot window is [1968-01-20T03:14:08Z, 2104-02-26T09:42:24Z) (RFC 4330 §3)', () => {
  const low = ERA1_UNIX_S - (1n << 31n);
  assert.is(ntp64ToUnixNs(0x80000000n << 32n), low * S);
  assert.is(ntp64ToUnixNs((0x7fffffffn << 32n) | 0xffffffffn), (low + (1n << 32n)) * S, 'last fraction rounds up to the window end');
  assert.is(ntp64ToUnixNs(0x7fffffffn << 32n), (low + (1n << 32n) - 1n) * S);
  assert.is(DEFAULT_PIVOT_NS, ERA1_UNIX_S * S);
});

test('a pivot picks the nearest era: 1970 factory date and 2100 both decode', () => {
  const factory = 0n;
  const y2100 = 4102444800n * S;
  assert.is(ntp64ToUnixNs(unixNsToNtp64(factory), 0n), factory);
  assert.is(ntp64ToUnixNs(unixNsToNtp64(y2100), y2100), y2100);
  assert.is(ntp64ToUnixNs(unixNsToNtp64(y2100), 0n), y2100 - (1n << 32n) * S, 'far from the pivot: the era nearest to it');
});

test('fraction rounding: to nearest, ties up', () => {
  assert.is(unixNsToNtp64(999_999_999n) & 0xffffffffn, 0xfffffffcn);
  assert.is(unixNsToNtp64(500_000_000n) & 0xffffffffn, 0x80000000n);
  assert.is(unixNsToNtp64(1n) & 0xffffffffn, 4n);
  // 2^22 / 2^32 s = 976562.5 ns exactly: the tie rounds up.
  assert.is(ntp64ToUnixNs((2208988800n << 32n) | (1n << 22n)), 976_563n);
  // 2^32 - 1 fraction is 999999999.77 ns: rounds into the next second.
  assert.is(ntp64ToUnixNs((2208988800n << 32n) | 0xffffffffn), S);
});

test("signed durations: negative values are two's complement 32.32", () => {
  assert.is(durationNsToNtp64(0n), 0n);
  assert.is(durationNsToNtp64(-1n), (1n << 64n) - 4n);
  assert.is(durationNsToNtp64(-S), 0xffffffffn << 32n);
  assert.is(durationNsToNtp64(-1_500_000_000n), (0xfffffffen << 32n) | 0x80000000n);
  assert.is(ntp64ToDurationNs((0xfffffffen << 32n) | 0x80000000n), -1_500_000_000n);
  assert.is(ntp64ToDurationNs((1n << 64n) - 4n), -1n);
  assert.is(ntp64ToDurationNs(0x7fffffffn << 32n), 2147483647n * S);
  assert.is(ntp64ToDurationNs(0x80000000n << 32n), -2147483648n * S);
});

test('short format 16.16: rounding, clamping of negatives and saturation', () => {
  assert.is(nsToNtpShort(0n), 0);
  assert.is(nsToNtpShort(-5n), 0);
  assert.is(nsToNtpShort(S), 0x10000);
  assert.is(nsToNtpShort(15_258n), 1, '1/65536 s = 15258.8 ns');
  assert.is(nsToNtpShort(7_629n), 0);
  assert.is(nsToNtpShort(7_630n), 1);
  assert.is(nsToNtpShort(65_535n * S + 999_999_999n), 0xffffffff);
  assert.is(nsToNtpShort(65_536n * S), 0xffffffff);
  assert.is(nsToNtpShort(1n << 62n), 0xffffffff);
  assert.is(ntpShortToNs(0x10000), S);
  assert.is(ntpShortToNs(1), 15_259n);
  assert.is(ntpShortToNs(0xffffffff), 65_535n * S + 999_984_741n);
});

test('round trips over seeded random instants, durations and short values', () => {
  const seed = testSeed(20261121);
  const rng = seededRng(seed);
  for (let i = 0; i < 20_000; i++) {
    const pivot = BigInt(rng.int(-2_000_000_000, 4_000_000_000)) * S;
    const offset = (BigInt(rng.u32()) - (1n << 31n)) * S + BigInt(rng.int(0, 999_999_999));
    const t = pivot + offset;
    if (t === pivot - (1n << 31n) * S) continue;
    assert.is(ntp64ToUnixNs(unixNsToNtp64(t), pivot), t, `seed ${seed} t=${t} pivot=${pivot}`);
    const d = BigInt.asIntN(64, rng.u64());
    const dClamped = d / 4n; // keep s * 1e9 within int64 after the 32.32 trip
    assert.is(ntp64ToDurationNs(durationNsToNtp64(dClamped >> 32n)), dClamped >> 32n, `seed ${seed}`);
    const v = rng.u32();
    assert.is(nsToNtpShort(ntpShortToNs(v)), v, `seed ${seed} short ${v}`);
  }
});

test.run();
