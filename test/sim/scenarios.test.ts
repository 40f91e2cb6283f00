// Every named scenario of the simulator, for a few seeds, against its
// invariants and bounds (docs/election.md, "What the simulator checks").
// The real election, NTP client and discipline run on simulated boards.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { runScenario, SCENARIOS } from '../../src/sim/scenarios.js';
import { testSeed } from '../helpers/seed.js';

const SEEDS = 3;

for (const name of Object.keys(SCENARIOS)) {
  test(`scenario ${name}: ${SEEDS} seeds hold every invariant`, () => {
    for (let i = 0; i < SEEDS; i++) {
      const seed = testSeed(100 + i);
      const r = runScenario(name, { seed });
      assert.equal(r.violations, [], `--scenario ${name} --seed ${seed}: ${r.violations.join('; ')}`);
    }
  });
}

test("seed-frames ends as the seed's frame 28: B serves, A, C and D are its clients", () => {
  const r = runScenario('seed-frames', { seed: testSeed(1) });
  assert.equal(r.servers, ['B']);
  assert.equal(r.violations, []);
});

test('16 boards booting together at 1970: one server and all within 1 ms in 5 s', () => {
  const r = runScenario('simultaneous-boot', { seed: testSeed(2), nodes: 16 });
  assert.ok(r.time_to_one_server_ms !== null && r.time_to_one_server_ms <= 5000, `one server at ${r.time_to_one_server_ms} ms`);
  assert.ok(r.time_to_synced_ms !== null && r.time_to_synced_ms <= 5000, `synced at ${r.time_to_synced_ms} ms`);
  assert.ok(r.max_offset_ns !== null && r.max_offset_ns < 1e6);
});

test('server crash: a new server, and every client following it, within 3 s', () => {
  const r = runScenario('server-crash', { seed: testSeed(3) });
  assert.ok(r.time_to_one_server_ms !== null && r.time_to_one_server_ms <= 3000, `${r.time_to_one_server_ms} ms`);
});

test('steady state: each client sends one election message a second, the server one per node', () => {
  const r = runScenario('simultaneous-boot', { seed: testSeed(5), nodes: 48 });
  assert.equal(r.violations, []);
  assert.ok(r.steady_messages_per_node_per_s_max <= 1.5, `clients: up to ${r.steady_messages_per_node_per_s_max}/s`);
  assert.ok(r.server_messages_per_s !== null && r.server_messages_per_s <= 48 + 1, `server: ${r.server_messages_per_s}/s`);
});

test('a simultaneous boot of 256: the busiest second costs each node O(1) messages, not O(N); failover still ≤ 3 s', () => {
  // Before the sweep every node asked every other: 889 messages per node in the busiest second at 256.
  const boot = runScenario('simultaneous-boot', { seed: testSeed(7), nodes: 256 });
  assert.equal(boot.violations, []);
  assert.ok(boot.peak_messages_per_node_per_s <= 64, `boot peak ${boot.peak_messages_per_node_per_s} msgs/node/s`);
  assert.ok(boot.steady_messages_per_node_per_s_max <= 1.5, `clients: up to ${boot.steady_messages_per_node_per_s_max}/s`);
  const crash = runScenario('server-crash', { seed: testSeed(8), nodes: 256 });
  assert.equal(crash.violations, []);
  // The last 20 s hold the failover: still no client above 3 a second (the bound).
  assert.ok(crash.steady_messages_per_node_per_s_max <= 3, `clients after a failover: up to ${crash.steady_messages_per_node_per_s_max}/s`);
});

test("the server dies 1 s into office: the first named successor that can serve takes over after its retries (the seed's order)", () => {
  // The demo's act 2: D serves, A and C cannot; D dies before its clients' flags reach it.
  const r = runScenario('succession', { seed: testSeed(6) });
  assert.equal(r.violations, []);
  assert.equal(r.servers, ['B']);
});

test('a broken invariant is reported with the seed that replays it', () => {
  // The same seed twice gives the same run, number for number.
  const a = runScenario('random', { seed: testSeed(4), nodes: 6 });
  const b = runScenario('random', { seed: testSeed(4), nodes: 6 });
  assert.equal(a, b);
});

test.run();
