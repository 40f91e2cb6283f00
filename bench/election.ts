// Election cost and speed against cluster size, in the simulator: for N in
// 2..64, simultaneous boot at 1970 (time to one server, to all within 1 ms)
// and a server crash (time to a new server), with election messages sent per
// node per second. Also the long mode: --seeds K random runs at 16 nodes.
//   node --import tsx bench/election.ts [--seeds K]
import { runScenario } from '../src/sim/scenarios.js';

const args = process.argv.slice(2);
const seedsAt = args.indexOf('--seeds');
const longSeeds = seedsAt >= 0 ? Number(args[seedsAt + 1]) : 0;
const SEEDS = 5;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

console.log('nodes  boot→one server  boot→synced  crash→new server  msgs/node/s  msgs/node/s ÷ N');
for (const n of [2, 4, 8, 16, 32, 64]) {
  const boot = Array.from({ length: SEEDS }, (_, i) => runScenario('simultaneous-boot', { nodes: n, seed: i + 1 }));
  const crash = Array.from({ length: SEEDS }, (_, i) => runScenario('server-crash', { nodes: n, seed: i + 1 }));
  const bad = [...boot, ...crash].filter((r) => r.violations.length);
  const msgs = median(boot.map((r) => r.messages_per_node_per_s));
  console.log(
    [
      String(n).padStart(5),
      `${median(boot.map((r) => r.time_to_one_server_ms ?? Infinity))} ms`.padStart(16),
      `${median(boot.map((r) => r.time_to_synced_ms ?? Infinity))} ms`.padStart(12),
      `${median(crash.map((r) => r.time_to_one_server_ms ?? Infinity))} ms`.padStart(17),
      msgs.toFixed(1).padStart(12),
      (msgs / n).toFixed(2).padStart(16),
      bad.length ? `  ${bad.length} runs broke invariants (seeds ${bad.map((r) => `${r.scenario}:${r.seed}`).join(' ')})` : '',
    ].join(' '),
  );
}
if (longSeeds > 0) {
  let failed = 0;
  const t0 = Date.now();
  for (let s = 1; s <= longSeeds; s++) if (runScenario('random', { nodes: 16, seed: s }).violations.length) failed++;
  console.log(`random, 16 nodes: ${longSeeds} seeds, ${failed} broke an invariant (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
}
