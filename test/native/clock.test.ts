// Clock access. Reads are checked against an independent adjtimex call (libc
// through Python's ctypes). Writes run only without CAP_SYS_TIME (npm test
// drops it) and must fail with EPERM, leaving the kernel clock as it was.
// CLOCKTOWER_TEST_REAL_CLOCK=1 (run outside npm test, with the capability)
// adds a real write that sets back exactly the values just read.
import { execFileSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import {
  ClockError,
  enableSystemClockWrites,
  monotonicRawNs,
  readKernelClock,
  realtimeNs,
  rewriteCurrentFrequency,
  setFrequencyPpm,
  setSyncStatus,
  slewOffsetNs,
  stepNs,
} from '../../src/native/clock.js';
import { hasSysTime } from '../helpers/caps.js';

const REAL = process.env['CLOCKTOWER_TEST_REAL_CLOCK'] === '1';

const PY_ADJTIMEX = `
import ctypes
class Timex(ctypes.Structure):
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
                ("sec", ctypes.c_long), ("usec", ctypes.c_long), ("tick", ctypes.c_long),
                ("pad", ctypes.c_byte * 200)]
t = Timex()
state = ctypes.CDLL(None, use_errno=True).adjtimex(ctypes.byref(t))
print(state, t.status, t.freq, t.tick, t.constant)
`;

test('realtime and monotonic raw clocks read as BigInt ns', () => {
  const rt = realtimeNs();
  assert.ok(typeof rt === 'bigint');
  const wall = BigInt(Date.now()) * 1_000_000n;
  assert.ok(rt - wall < 1_000_000_000n && wall - rt < 1_000_000_000n, 'REALTIME agrees with Date.now within 1 s');
  const a = monotonicRawNs();
  const b = monotonicRawNs();
  assert.ok(b >= a);
});

test('adjtimex read returns the kernel status an independent read sees', () => {
  const k = readKernelClock();
  const [state, status, freq, tick, constant] = execFileSync('python3', ['-c', PY_ADJTIMEX], { encoding: 'utf8' })
    .trim().split(' ').map(Number);
  assert.is(k.state, state);
  assert.is(k.status, status);
  assert.is(k.freqPpm, freq! / 65536);
  assert.is(k.tickUs, tick);
  assert.ok(k.timeNs > 0n);
  assert.is(typeof k.synced, 'boolean');
  void constant;
});

test('writes are refused until the system driver enables them', () => {
  const err = (() => { try { slewOffsetNs(0); } catch (e) { return e; } })();
  assert.instance(err, ClockError);
  assert.is((err as ClockError).code, 'ERR_CLOCK_WRITES_DISABLED');
});

test('write arguments are validated before the kernel sees them', () => {
  enableSystemClockWrites();
  assert.throws(() => setFrequencyPpm(501), /500/);
  assert.throws(() => setFrequencyPpm(Number.NaN), /500/);
  assert.throws(() => slewOffsetNs(600_000_000), /500000000/);
  assert.throws(() => slewOffsetNs(0.5), /integer/);
  assert.throws(() => stepNs(1 as unknown as bigint), /bigint/);
});

if (!REAL) {
  test('without CAP_SYS_TIME every write fails with EPERM and the clock is untouched', () => {
    assert.not.ok(hasSysTime(), 'tests must run with CAP_SYS_TIME dropped: use npm test (scripts/no-sys-time.sh)');
    enableSystemClockWrites();
    const before = readKernelClock();
    const writes: Array<[string, () => unknown]> = [
      ['rewrite frequency', () => rewriteCurrentFrequency()],
      ['set frequency', () => setFrequencyPpm(before.freqPpm)],
      ['slew', () => slewOffsetNs(0)],
      ['step', () => stepNs(0n)],
      ['sync status', () => setSyncStatus({ synced: before.synced, maxErrorUs: before.maxErrorUs, estErrorUs: before.estErrorUs })],
    ];
    for (const [what, w] of writes) {
      const err = (() => { try { w(); } catch (e) { return e; } })();
      assert.instance(err, ClockError, what);
      assert.is((err as ClockError).code, 'EPERM', what);
      assert.match((err as ClockError).message, /CAP_SYS_TIME/, what);
    }
    const after = readKernelClock();
    assert.is(after.status, before.status);
    assert.is(after.freqPpm, before.freqPpm);
    assert.is(after.offsetNs, before.offsetNs);
    assert.is(after.tickUs, before.tickUs);
  });
} else {
  test('REAL CLOCK: writing back the values just read succeeds and changes nothing', () => {
    assert.ok(hasSysTime(), 'CLOCKTOWER_TEST_REAL_CLOCK=1 needs CAP_SYS_TIME');
    enableSystemClockWrites();
    const before = readKernelClock();
    rewriteCurrentFrequency();
    setSyncStatus({ synced: before.synced, maxErrorUs: before.maxErrorUs, estErrorUs: before.estErrorUs, leap: before.leap });
    const after = readKernelClock();
    assert.is(after.freqPpm, before.freqPpm);
    assert.is(after.status, before.status);
  });
}

test.run();
