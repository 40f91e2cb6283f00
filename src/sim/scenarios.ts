// Named simulation scenarios (`clocktower simulate --scenario NAME`). Each
// builds a world from (nodes, seed), says when its clock for the measured
// times starts, and what bounds it must meet beyond the invariants.
import { seededRng, type Rng } from '../util/rng.js';
import { Observer, type Bounds } from './observer.js';
import { World, type LinkProfile, type SimAction, type SimConfig, type SimNodeSpec } from './world.js';

const S = 1e9;
const MS = 1e6;
/** The usual factory date of a board without an RTC. */
export const FACTORY_1970 = 0n;

export interface ScenarioPlan {
  config: SimConfig;
  measureFromNs: number;
  bounds: Bounds;
}

export interface RunResult {
  scenario: string;
  seed: number;
  nodes: number;
  time_to_one_server_ms: number | null;
  time_to_synced_ms: number | null;
  max_offset_ns: number | null;
  messages_per_node_per_s: number;
  /** Over the last 20 s of the run: election messages each node but the server sends per second (median, and the most). */
  steady_messages_per_node_per_s: number;
  steady_messages_per_node_per_s_max: number;
  /** The same for the server at the end (it speaks to every node: counted apart). */
  server_messages_per_s: number | null;
  /** The busiest simulated second, in election messages per node. */
  peak_messages_per_node_per_s: number;
  ntp_requests_per_node_per_s: number;
  servers: string[];
  violations: string[];
}

const LAN: LinkProfile = { delayNs: 150_000, jitterNs: 50_000, lossRate: 0 };

const letters = (i: number): string => (i < 26 ? String.fromCharCode(65 + i) : `n${i}`);

function cluster(n: number, o: Partial<SimNodeSpec> = {}): SimNodeSpec[] {
  return Array.from({ length: n }, (_, i) => ({ id: letters(i), priority: i, factoryNs: FACTORY_1970, ...o }));
}

function plan(seed: number, nodes: SimNodeSpec[], durationS: number, extra: Partial<SimConfig> = {}, measureFromNs = 0, bounds: Bounds = {}): ScenarioPlan {
  return { config: { seed, nodes, link: LAN, durationNs: durationS * S, ...extra }, measureFromNs, bounds };
}

export const SCENARIOS: Record<string, { about: string; defaultNodes: number; build(nodes: number, seed: number): ScenarioPlan }> = {
  'seed-frames': {
    about: "the seed's A-D story: priorities 0-3, A and C cannot start serving, all boot at once; B must serve",
    defaultNodes: 4,
    build: (_n, seed) => {
      const nodes = cluster(4);
      nodes[0]!.serveFailures = 99;
      nodes[2]!.serveFailures = 99;
      return plan(seed, nodes, 40, {}, 0, { server: 'B' });
    },
  },
  'simultaneous-boot': {
    about: 'N boards boot together at 1970: one server and all within 1 ms in 5 s',
    defaultNodes: 16,
    build: (n, seed) => plan(seed, cluster(n), 30, {}, 0, { oneServerMs: 5000, syncedMs: 5000, server: 'A' }),
  },
  'server-crash': {
    about: 'the server dies at 20 s: a new server and all clients following in 3 s',
    defaultNodes: 8,
    build: (n, seed) =>
      plan(seed, cluster(n), 40, { script: [{ atNs: 20 * S, action: { kind: 'crash', node: 'A' } }] }, 20 * S, {
        recoveryMs: 3000,
        oneServerMs: 3000,
        server: 'B',
      }),
  },
  'server-hang': {
    about: 'the server hangs for 10 s at 20 s; the cluster replaces it, and on resuming it steps down instead of fighting',
    defaultNodes: 6,
    build: (n, seed) =>
      plan(seed, cluster(n), 50, { script: [{ atNs: 20 * S, action: { kind: 'hang', node: 'A', durationNs: 10 * S } }] }, 30 * S, {
        recoveryMs: 3000,
        oneServerMs: 3000,
        server: 'B',
      }),
  },
  'partition-heal': {
    about: 'the cluster splits in two for 20 s (two servers), then heals back to one',
    defaultNodes: 8,
    build: (n, seed) => {
      const nodes = cluster(n);
      const half = nodes.slice(0, Math.ceil(n / 2)).map((x) => x.id);
      const rest = nodes.slice(Math.ceil(n / 2)).map((x) => x.id);
      return plan(
        seed,
        nodes,
        60,
        {
          script: [
            { atNs: 15 * S, action: { kind: 'partition', groups: [half, rest] } },
            { atNs: 35 * S, action: { kind: 'heal' } },
          ],
        },
        35 * S,
        { oneServerMs: 3000, server: 'A' },
      );
    },
  },
  'power-loss': {
    about: 'every board loses power at 30 s and comes back at 1970: the cluster resumes at or after the largest saved floor',
    defaultNodes: 6,
    build: (n, seed) => {
      const nodes = cluster(n);
      const script: { atNs: number; action: SimAction }[] = [];
      for (const x of nodes) script.push({ atNs: 30 * S, action: { kind: 'crash', node: x.id } });
      for (const x of nodes) script.push({ atNs: 40 * S, action: { kind: 'restart', node: x.id, factoryNs: FACTORY_1970 } });
      return plan(seed, nodes, 70, { script, persistIntervalNs: 5_000_000_000n }, 40 * S, { oneServerMs: 5000, syncedMs: 5000 });
    },
  },
  'late-high-priority': {
    about: 'priority 0 boots 20 s after the rest: it joins as a client (no preemption)',
    defaultNodes: 5,
    build: (n, seed) => {
      const nodes = cluster(n);
      nodes[0]!.bootAtNs = 20 * S;
      return plan(seed, nodes, 45, {}, 20 * S, { server: 'B' });
    },
  },
  'trusted-time': {
    about: 'one board (priority 3) has operator-trusted time, the rest boot at 1970: the trusted one serves',
    defaultNodes: 5,
    build: (n, seed) => {
      const nodes = cluster(n);
      const t = nodes[Math.min(3, n - 1)]!;
      t.trusted = true;
      t.factoryNs = null;
      return plan(seed, nodes, 30, {}, 0, { oneServerMs: 5000, syncedMs: 5000, server: t.id });
    },
  },
  succession: {
    about: "D (trusted) serves; A and C cannot serve; D dies 1 s into office: B takes over once A has given up (the demo's act 2)",
    defaultNodes: 4,
    build: (_n, seed) => {
      const nodes = cluster(4);
      nodes[3]!.trusted = true;
      nodes[0]!.serveFailures = 99;
      nodes[2]!.serveFailures = 99;
      return plan(seed, nodes, 30, { script: [{ atNs: 2 * S, action: { kind: 'crash', node: 'D' } }] }, 2 * S, { server: 'B' });
    },
  },
  'lossy-links': {
    about: '10 % loss and 1 ms ± 0.5 ms delay on every link',
    defaultNodes: 8,
    build: (n, seed) => plan(seed, cluster(n), 60, { link: { delayNs: 1 * MS, jitterNs: 0.5 * MS, lossRate: 0.1 } }, 0, { server: 'A' }),
  },
  random: {
    about: 'random links, boot times, crashes, restarts, hangs and partitions, then 30 s of quiet',
    defaultNodes: 8,
    build: (n, seed) => randomPlan(n, seed),
  },
};

function randomPlan(n: number, seed: number): ScenarioPlan {
  const r: Rng = seededRng(seed ^ 0x7a4d);
  const nodes = cluster(n).map((x) => ({
    ...x,
    priority: r.int(0, 2 * n),
    bootAtNs: r.float() < 0.7 ? 0 : r.float() * 10 * S,
    freqPpm: (r.float() - 0.5) * 400,
    ...(r.float() < 0.1 ? { serveFailures: r.int(1, 5) } : {}),
  }));
  // LAN-like: up to 1 ms delay, 300 µs mean jitter, 10 % loss, 200 µs asymmetry.
  const link: LinkProfile = {
    delayNs: 50_000 + r.float() * 0.95 * MS,
    jitterNs: r.float() * 0.3 * MS,
    lossRate: r.float() * 0.1,
    asymmetryNs: r.float() * 200_000,
  };
  const script: { atNs: number; action: SimAction }[] = [];
  const events = r.int(0, 6);
  const down = new Set<string>();
  let t = 10 * S;
  for (let i = 0; i < events; i++) {
    t += r.float() * 5 * S;
    const victim = nodes[r.int(0, n - 1)]!.id;
    const kind = r.int(0, 3);
    if (kind === 0 && !down.has(victim)) {
      down.add(victim);
      script.push({ atNs: t, action: { kind: 'crash', node: victim } });
      if (r.float() < 0.7) {
        down.delete(victim);
        script.push({ atNs: t + r.float() * 10 * S, action: { kind: 'restart', node: victim, factoryNs: FACTORY_1970 } });
      }
    } else if (kind === 1) {
      script.push({ atNs: t, action: { kind: 'hang', node: victim, durationNs: r.float() * 8 * S } });
    } else if (kind === 2) {
      const ids = nodes.map((x) => x.id);
      const cut = r.int(1, n - 1);
      script.push({ atNs: t, action: { kind: 'partition', groups: [ids.slice(0, cut), ids.slice(cut)] } });
      script.push({ atNs: t + r.float() * 10 * S, action: { kind: 'heal' } });
    } else {
      script.push({ atNs: t, action: { kind: 'link', profile: { ...link, lossRate: r.float() * 0.2 } } });
      script.push({ atNs: t + r.float() * 10 * S, action: { kind: 'link', profile: link } });
    }
  }
  script.sort((a, b) => a.atNs - b.atNs);
  const lastNs = script.reduce((m, s) => Math.max(m, s.atNs), 12 * S);
  return { config: { seed, nodes, link, durationNs: lastNs + 30 * S, script }, measureFromNs: lastNs, bounds: {} };
}

/** The window at the end of a run in which steady-state traffic is measured. */
const STEADY_NS = 20 * S;

function steadyRates(
  world: World,
  servers: string[],
): Pick<RunResult, 'steady_messages_per_node_per_s' | 'steady_messages_per_node_per_s_max' | 'server_messages_per_s' | 'peak_messages_per_node_per_s'> {
  const perS = (i: number) => (world.sent.byNodeSteady[i] ?? 0) / (STEADY_NS / S);
  const server = world.nodes.findIndex((x) => servers.length === 1 && x.spec.id === servers[0]);
  const others = world.nodes
    .map((_, i) => i)
    .filter((i) => i !== server)
    .map(perS)
    .sort((a, b) => a - b);
  const peak = Math.max(0, ...world.sent.perSecond.map((x) => x ?? 0));
  return {
    steady_messages_per_node_per_s: others.length ? others[others.length >> 1]! : 0,
    steady_messages_per_node_per_s_max: others.length ? others[others.length - 1]! : 0,
    server_messages_per_s: server >= 0 ? perS(server) : null,
    peak_messages_per_node_per_s: peak / world.nodes.length,
  };
}

/** Runs one scenario for one seed and checks it. */
export function runScenario(name: string, o: { nodes?: number; seed: number; durationS?: number }): RunResult {
  const sc = SCENARIOS[name];
  if (!sc) throw new Error(`unknown scenario ${JSON.stringify(name)}; try: ${Object.keys(SCENARIOS).join(', ')}`);
  const n = o.nodes ?? sc.defaultNodes;
  if (!Number.isInteger(n) || n < 2 || n > 1000) throw new RangeError('--nodes must be 2..1000');
  const p = sc.build(n, o.seed);
  if (o.durationS !== undefined) {
    // Longer or shorter, but never cut the script short: its last event and the time to settle after it.
    const lastNs = (p.config.script ?? []).reduce((m, x) => Math.max(m, x.atNs), 0);
    if (!(o.durationS * S > lastNs + STEADY_NS)) throw new RangeError(`--duration must exceed ${Math.ceil((lastNs + STEADY_NS) / S)} s for ${name}`);
    p.config.durationNs = o.durationS * S;
  }
  const capable = new Set(p.config.nodes.filter((x) => !x.serveFailures).map((x) => x.id));
  const obs = new Observer(p.measureFromNs, p.bounds, (id) => capable.has(id), p.config.preempt ?? false);
  const world = new World(p.config, obs);
  world.sent.steadyFromNs = p.config.durationNs - STEADY_NS;
  world.run();
  const m = obs.finish();
  const count = p.config.nodes.length;
  const seconds = p.config.durationNs / S;
  return {
    scenario: name,
    seed: o.seed,
    nodes: count,
    time_to_one_server_ms: m.timeToOneServerMs,
    time_to_synced_ms: m.timeToSyncedMs,
    max_offset_ns: m.maxOffsetNs,
    messages_per_node_per_s: world.counters.clusterSent / count / seconds,
    ...steadyRates(world, m.servers),
    ntp_requests_per_node_per_s: world.counters.ntpSent / count / seconds,
    servers: m.servers,
    violations: m.violations,
  };
}
