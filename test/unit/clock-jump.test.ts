// The machine's clock stepped under a virtual clock (simulated: the test
// plays REALTIME and the monotonic clock). The jump is detected from the two
// clocks' disagreement and absorbed, so node time runs on, never dropping
// below its floor; slews of other daemons and scheduling noise are not jumps.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { isLeapSecond, JUMP_MIN_NS, JumpDetector } from '../../src/clock/jump.js';
import { VirtualClock } from '../../src/clock/virtual.js';

const S = 1_000_000_000n;
const HOUR = 3600n * S;

for (const [what, jumpNs] of [
  ['backward by an hour', -HOUR],
  ['forward by a day', 24n * HOUR],
  ['backward by 250 ms', -250_000_000n],
] as const) {
  test(`a system clock stepped ${what}: node time runs on at the monotonic rate and keeps its floor`, () => {
    let sys = 1_790_000_000n * S;
    let mono = 5n * S;
    const clock = new VirtualClock({ atSysNs: sys, startNs: 0n }); // a board that booted at 1970
    const jumps = new JumpDetector();
    jumps.observe(sys, mono);
    let floor = 0n;
    for (let tick = 1; tick <= 20; tick++) {
      sys += S;
      mono += S;
      if (tick === 10) sys += jumpNs; // someone steps the machine's clock
      const j = jumps.observe(sys, mono);
      if (tick === 10) assert.is(j, jumpNs, 'the jump is seen, to the nanosecond');
      else assert.is(j, null);
      if (j !== null) clock.absorbSystemJump(j);
      const node = clock.nodeNs(sys);
      assert.ok(node >= floor, `tick ${tick}: node ${node} below floor ${floor}`);
      assert.is(node, BigInt(tick) * S, 'node time advances exactly with monotonic time');
      floor = node;
    }
  });
}

test('slews and noise below the threshold are not jumps; a long gap allows proportionally more', () => {
  const d = new JumpDetector();
  d.observe(0n, 0n);
  assert.is(d.observe(S + 83_000_000n, S), null, "chrony's fastest slew over one second");
  assert.is(d.observe(2n * S + 83_000_000n + JUMP_MIN_NS / 2n, 2n * S), null, 'scheduling noise');
  const t0 = 2n * S + 83_000_000n + JUMP_MIN_NS / 2n;
  assert.is(d.observe(t0 + 60n * S + 5n * S, 62n * S), null, '5 s more over a 60 s gap: within 100 ms + 10 %');
  assert.ok(d.observe(t0 + 65n * S + 62n * S + 20n * S, 124n * S) !== null, '20 s more over 62 s is a jump');
});

test('the native model follows the absorbed jump: the same real instant maps to the same node time', () => {
  const sys0 = 1_790_000_000n * S;
  const clock = new VirtualClock({ atSysNs: sys0, startNs: 42n * S, freqPpm: 12.5 });
  const before = clock.model(sys0 + 3n * S);
  const nodeBefore = before.refNodeNs + (sys0 + 3n * S - before.refSysNs);
  clock.absorbSystemJump(-HOUR);
  const after = clock.model(sys0 + 3n * S - HOUR);
  const nodeAfter = after.refNodeNs + (sys0 + 3n * S - HOUR - after.refSysNs);
  assert.is(nodeAfter, nodeBefore);
});

test("the kernel's own leap second is told apart from a step by someone else", () => {
  assert.ok(isLeapSecond(-S + 3_000_000n, 4), 'an inserted second, seen just after (TIME_WAIT)');
  assert.ok(isLeapSecond(-S, 3), 'during it (TIME_OOP)');
  assert.ok(isLeapSecond(S, 4), 'a deleted second');
  assert.not.ok(isLeapSecond(-S, 0), 'a 1 s step with the kernel in TIME_OK is a step');
  assert.not.ok(isLeapSecond(-3n * S, 4), 'a 3 s step while the leap state lingers is a step');
});

test.run();
