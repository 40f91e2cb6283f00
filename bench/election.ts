// Election cost and speed against cluster size, in the simulator: for N in
// 2..1000, simultaneous boot at 1970 (time to one server, to all within 1 ms)
// and a server crash (time to a new server), with election messages sent:
// in steady state (the last 20 s) per node but the server (median and most),
// by the server alone, and the busiest second per node (the boot). Also the
// long mode: --seeds K random runs at 16 nodes. --nodes 2,16,... picks sizes.
// Last, the issue's speed bound: 1,000 nodes for 60 simulated seconds, wall time.
//   node --import tsx bench/election.ts [--nodes LIST] [--seeds K]
import { runScenario } from '../src/sim/scenarios.js';

const args = process.argv.slice(2);
const seedsAt = args.indexOf('--seeds');
const longSeeds = seedsAt >= 0 ? Number(args[seedsAt + 1]) : 0;
const nodesAt = args.indexOf('--nodes');
const SIZES = nodesAt >= 0 ? args[nodesAt + 1]!.split(',').map(Number) : [2, 4, 16, 64, 256, 1000];
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

console.log('nodes  seeds  boot→one server  boot→synced  crash→new server  steady msgs/node/s (max)  server msgs/s  boot peak msgs/node/s  wall s');
for (const n of SIZES) {
  // Fewer seeds where a run takes long.
  const seeds = n <= 256 ? 5 : 2;
  const t0 = Date.now();
  const boot = Array.from({ length: seeds }, (_, i) => runScenario('simultaneous-boot', { nodes: n, seed: i + 1 }));
  const crash = Array.from({ length: seeds }, (_, i) => runScenario('server-crash', { nodes: n, seed: i + 1 }));
  const bad = [...boot, ...crash].filter((r) => r.violations.length);
  console.log(
    [
      String(n).padStart(5),
      String(seeds).padStart(6),
      `${median(boot.map((r) => r.time_to_one_server_ms ?? Infinity))} ms`.padStart(16),
      `${median(boot.map((r) => r.time_to_synced_ms ?? Infinity))} ms`.padStart(12),
      `${median(crash.map((r) => r.time_to_one_server_ms ?? Infinity))} ms`.padStart(17),
      `${median(boot.map((r) => r.steady_messages_per_node_per_s)).toFixed(2)} (${Math.max(...boot.map((r) => r.steady_messages_per_node_per_s_max)).toFixed(2)})`.padStart(
        25,
      ),
      median(boot.map((r) => r.server_messages_per_s ?? NaN))
        .toFixed(1)
        .padStart(14),
      median(boot.map((r) => r.peak_messages_per_node_per_s))
        .toFixed(1)
        .padStart(22),
      ((Date.now() - t0) / 1000).toFixed(1).padStart(7),
      bad.length ? `  ${bad.length} runs broke invariants (seeds ${bad.map((r) => `${r.scenario}:${r.seed}`).join(' ')})` : '',
    ].join(' '),
  );
}
{
  const t0 = Date.now();
  const r = runScenario('simultaneous-boot', { nodes: 1000, seed: 1, durationS: 60 });
  console.log(
    `1000 nodes, 60 simulated s: ${((Date.now() - t0) / 1000).toFixed(1)} s wall${r.violations.length ? ` (broke: ${r.violations.join('; ')})` : ''}, boot peak ${r.peak_messages_per_node_per_s.toFixed(1)} msgs/node/s`,
  );
}
if (longSeeds > 0) {
  let failed = 0;
  const t0 = Date.now();
  for (let s = 1; s <= longSeeds; s++) if (runScenario('random', { nodes: 16, seed: s }).violations.length) failed++;
  console.log(`random, 16 nodes: ${longSeeds} seeds, ${failed} broke an invariant (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
}
