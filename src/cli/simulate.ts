import { runScenario, SCENARIOS, type RunResult } from '../sim/scenarios.js';
import { intOption, parse, UsageError } from './args.js';
import type { Command } from './main.js';

const usage = `usage: clocktower simulate [options]

Runs the real election and NTP client code on simulated boards (drifting
clocks at a factory date, links with delay, jitter, loss and partitions,
crashes and hangs) under a virtual scheduler, and checks the invariants of
docs/election.md. Deterministic: --seed replays a run exactly.

options:
  --scenario NAME  one of the scenarios below (default random)
  --nodes N        cluster size (default: the scenario's own)
  --duration S     simulated seconds per run (default: the scenario's own)
  --seed S         first seed (default 1)
  --seeds K        run K seeds: S, S+1, ... (default 1)
  --json           one JSON object per run per line
  --list           list the scenarios

Exit status: 0 when every run holds its invariants, 1 otherwise (the
failing seeds are printed), 2 on bad usage.

scenarios:
${Object.entries(SCENARIOS)
  .map(([k, v]) => `  ${k.padEnd(20)}${v.about}`)
  .join('\n')}`;

const ms = (v: number | null): string => (v === null ? '—' : `${Math.round(v)} ms`);

function line(r: RunResult): string {
  return [
    `${r.scenario} seed=${r.seed} nodes=${r.nodes}`,
    `one server ${ms(r.time_to_one_server_ms)}`,
    `synced ${ms(r.time_to_synced_ms)}`,
    `max offset ${r.max_offset_ns === null ? '—' : `${(r.max_offset_ns / 1000).toFixed(1)} µs`}`,
    `${r.messages_per_node_per_s.toFixed(1)} msg/node/s`,
    r.violations.length ? `VIOLATIONS: ${r.violations.join('; ')}` : 'ok',
  ].join('  ');
}

export const command: Command = {
  summary: 'run the election on simulated boards and links, checking its invariants',
  usage,
  async run(args) {
    try {
      const { values, str } = parse(args, {
        scenario: { type: 'string' },
        nodes: { type: 'string' },
        duration: { type: 'string' },
        seed: { type: 'string' },
        seeds: { type: 'string' },
        json: { type: 'boolean' },
        list: { type: 'boolean' },
      });
      if (values.list) {
        for (const [k, v] of Object.entries(SCENARIOS)) console.log(`${k.padEnd(20)}${v.about}`);
        return 0;
      }
      const name = str('scenario') ?? 'random';
      if (!SCENARIOS[name]) throw new UsageError(`unknown scenario ${JSON.stringify(name)}; --list shows them`);
      const nodes = str('nodes') === undefined ? undefined : intOption('nodes', str('nodes'), 0, 2, 1000);
      const durationS = str('duration') === undefined ? undefined : intOption('duration', str('duration'), 0, 1, 3600);
      const seed = intOption('seed', str('seed'), 1, 0, 0xffffffff);
      const seeds = intOption('seeds', str('seeds'), 1, 1, 10_000_000);
      const failed: number[] = [];
      for (let i = 0; i < seeds; i++) {
        const s = (seed + i) >>> 0;
        const r = runScenario(name, { seed: s, ...(nodes !== undefined ? { nodes } : {}), ...(durationS !== undefined ? { durationS } : {}) });
        if (r.violations.length) failed.push(s);
        console.log(values.json ? JSON.stringify(r) : line(r));
      }
      if (failed.length) {
        const shown = failed.slice(0, 20).join(', ');
        console.error(
          `${failed.length} of ${seeds} runs broke an invariant; replay with --scenario ${name}${nodes ? ` --nodes ${nodes}` : ''} --seed ${failed[0]} (failing seeds: ${shown}${failed.length > 20 ? ', …' : ''})`,
        );
        return 1;
      }
      if (seeds > 1 && !values.json) console.log(`${seeds} runs, no invariant broken`);
      return 0;
    } catch (e) {
      if (e instanceof UsageError || e instanceof RangeError) {
        console.error(`clocktower simulate: ${e.message}`);
        return 2;
      }
      throw e;
    }
  },
};
