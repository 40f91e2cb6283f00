// bench/accuracy.ts --system: the accuracy profiles with each client
// disciplining a real kernel clock. Two user-mode Linux guests
// (test/helpers/uml.ts) on one link: in one our daemon in system mode, in the
// other chronyd without -x, both polling the same reference server
// (test/kernel/refserver.ts, known time running 15 ppm fast, as a board's
// oscillator would be off) through the same relay process at 1 s. Each
// guest measures its own kernel clock against that server over the direct
// link every 500 ms (bench/tools/guest-clock.ts: least delay of three
// queries); both measure the same way, so the link's own asymmetry is common
// to the two columns. Statistics after the warm-up; the error is |clock −
// true time|.
//   sh scripts/no-sys-time.sh node --import tsx bench/accuracy.ts --system [--quick] [--seconds N] [--rounds N] [--profile I]
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

import { HOST_ADDRESS, Link, LINK_PREFIX, canUseUml, runGuest } from '../test/helpers/uml.js';
import { nodeArgv } from '../test/helpers/node.js';
import { have } from '../test/helpers/tools.js';
import { Relay } from '../test/tools/relay.js';
import { PROFILES } from './tools/profiles.js';
import { median, quantiles } from './tools/replay-samples.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const RUN_S = Number(opt('--seconds') ?? (args.includes('--quick') ? 60 : 150));
const WARMUP_S = Math.min(30, RUN_S / 3);
const ROUNDS = Number(opt('--rounds') ?? 1);
const ONLY = opt('--profile') === undefined ? null : Number(opt('--profile'));
/** As in bench/accuracy.ts: a fixed delay on every relayed leg hides the relay's own wake-up. */
const BASE_US = Number(opt('--base-us') ?? 250);
const TRUTH = `${HOST_ADDRESS}:123`;
const TRUTH_FREQ_PPM = 15;

interface Series {
  errNs: number[];
  firstWithin100usS: number | null;
  lost: number;
}

function readSeries(dir: string): Series {
  const rows = readFileSync(path.join(dir, 'series.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));
  const pts = rows.map(([t, e]) => ({ t: Number(t), err: e === '' ? null : Number(e) }));
  const first = pts.find((p) => p.err !== null && Math.abs(p.err) < 100_000);
  return {
    errNs: pts.filter((p) => p.t >= WARMUP_S && p.err !== null).map((p) => p.err!),
    firstWithin100usS: first ? first.t : null,
    lost: pts.filter((p) => p.err === null).length,
  };
}

async function runProfile(link: Link, index: number, round: number): Promise<Record<'ours' | 'chrony', Series>> {
  const p = PROFILES[index]!;
  let relay: Relay | null = null;
  let server = TRUTH;
  if (p.fwd) {
    relay = await Relay.start({
      listen: `${HOST_ADDRESS}:20001`,
      target: TRUTH,
      fwd: { ...p.fwd, delayUs: (p.fwd.delayUs ?? 0) + BASE_US },
      rev: { ...p.rev!, delayUs: (p.rev!.delayUs ?? 0) + BASE_US },
      seed: 1000 * index + 10 * round + 1,
      netns: link.ns.name,
      rtPriority: 10,
    });
    server = `${HOST_ADDRESS}:20001`;
  }
  try {
    const guest = (client: 'ours' | 'chrony', n: number) => {
      const argv = nodeArgv('bench/tools/guest-clock.ts', ['--client', client, '--server', server, '--truth', TRUTH, '--seconds', String(RUN_S)]);
      return runGuest({ link, address: `${LINK_PREFIX}.${n}`, script: argv.map((a) => `'${a}'`).join(' '), timeoutMs: (RUN_S + 120) * 1000 });
    };
    // The guests change places every round: a guest's own path to the server is not counted against one client.
    const [a, b] = round % 2 === 1 ? [2, 3] : [3, 2];
    const runs = await Promise.all([guest('ours', a), guest('chrony', b)]);
    const out = {} as Record<'ours' | 'chrony', Series>;
    for (const [i, who] of (['ours', 'chrony'] as const).entries()) {
      const g = runs[i]!;
      try {
        if (g.code !== 0) throw new Error(`${who}'s guest: exit ${g.code}${g.timedOut ? ' (timed out)' : ''}\n${g.log.slice(-3000)}`);
        out[who] = readSeries(g.dir);
      } finally {
        rmSync(g.dir, { recursive: true, force: true });
      }
    }
    return out;
  } finally {
    await relay?.stop();
  }
}

async function main(): Promise<void> {
  if (!canUseUml()) process.exit(1);
  if (!have('chronyd')) {
    console.log('accuracy --system: chronyd is not installed (apt-get install chrony, with its service kept from starting)');
    process.exit(1);
  }
  const link = new Link('accsys');
  const ref = link.spawnScript('test/kernel/refserver.ts', ['--listen', TRUTH, '--freq-ppm', String(TRUTH_FREQ_PPM)]);
  try {
    await new Promise<void>((resolve, reject) => {
      ref.stdout!.on('data', (d) => String(d).includes('ready') && resolve());
      ref.once('exit', () => reject(new Error('the reference server exited')));
    });
    console.log(
      `accuracy --system: ${RUN_S} s per profile${ROUNDS > 1 ? `, ${ROUNDS} rounds` : ''} (statistics after ${WARMUP_S} s), poll 1 s; each client disciplines its own guest's kernel clock`,
    );
    console.log(
      `truth: a server ${TRUTH_FREQ_PPM} ppm fast of this host's clock; error = |kernel clock − truth| measured from the guest over the direct link every 500 ms`,
    );
    console.log('profile                     client      p50 µs    p99 µs    max µs  first<100µs');
    const us = (ns: number) => (Number.isFinite(ns) ? (ns / 1000).toFixed(1) : '—').padStart(9);
    const ratios = new Map<number, { p50: number; p99: number; oursP99Ns: number }[]>();
    for (let round = 1; round <= ROUNDS; round++) {
      if (ROUNDS > 1) console.log(`round ${round}`);
      for (const [i, p] of PROFILES.entries()) {
        if (ONLY !== null && ONLY !== i) continue;
        const r = await runProfile(link, i, round);
        const q = { ours: quantiles(r.ours.errNs), chrony: quantiles(r.chrony.errNs) };
        for (const who of ['ours', 'chrony'] as const) {
          const first = r[who].firstWithin100usS;
          console.log(
            `${p.name.padEnd(27)} ${(who === 'ours' ? 'clocktower' : 'chronyd').padEnd(10)} ${us(q[who].p50)} ${us(q[who].p99)} ${us(q[who].max)} ${(first === null ? 'never' : `${first.toFixed(1)} s`).padStart(12)}${r[who].lost ? `  (${r[who].lost} readings lost)` : ''}`,
          );
        }
        const ratio = { p50: q.ours.p50 / q.chrony.p50, p99: q.ours.p99 / q.chrony.p99, oursP99Ns: q.ours.p99 };
        console.log(`${''.padEnd(27)} ours/chrony p50=${ratio.p50.toFixed(2)} p99=${ratio.p99.toFixed(2)}`);
        ratios.set(i, [...(ratios.get(i) ?? []), ratio]);
      }
    }
    const worst = { p50: 0, p99: 0 };
    console.log(`ours/chrony${ROUNDS > 1 ? `, median over ${ROUNDS} rounds` : ''}`);
    for (const [i, rs] of ratios) {
      const m = { p50: median(rs.map((x) => x.p50)), p99: median(rs.map((x) => x.p99)) };
      const extra = PROFILES[i]!.fwd ? '' : `; ours p99 ${(median(rs.map((x) => x.oursP99Ns)) / 1000).toFixed(1)} µs (goal ≤ 20)`;
      console.log(`${PROFILES[i]!.name.padEnd(27)} p50=${m.p50.toFixed(2)} p99=${m.p99.toFixed(2)}${extra}`);
      worst.p50 = Math.max(worst.p50, m.p50);
      worst.p99 = Math.max(worst.p99, m.p99);
    }
    console.log(`ratios system ours/chrony p50=${worst.p50.toFixed(2)} p99=${worst.p99.toFixed(2)}`);
  } finally {
    ref.kill('SIGTERM');
    link.destroy();
  }
}

await main();
