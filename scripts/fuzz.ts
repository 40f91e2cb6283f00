// `npm run fuzz -- --seconds N`: every fuzz target for about N seconds in all.
//   native (libFuzzer, clang with ASan + UBSan): responder, records, ntp_time
//     (native/fuzz/*_fuzz.cc), built into out/fuzz/bin, each started from the
//     committed seed corpus (native/fuzz/corpus/<target>) and its own growing
//     corpus in out/fuzz/corpus/<target>; crashes land in out/fuzz/crashes.
//   TypeScript (test/fuzz/targets.ts): packet codec, response checks, election
//     messages, config, key and state files, seeded mutation.
// Native targets get three quarters of the time. Prints executions, coverage
// and crashes per target, then `fuzz: N executions, C crashes`; exit 1 on any
// crash or when a native target could not run. --ts-only / --native-only.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { seededRng } from '../src/util/rng.js';
import { fuzz, TARGETS } from '../test/fuzz/targets.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const argVal = (k: string, d: number) => (args.includes(k) ? Number(args[args.indexOf(k) + 1]) : d);
const seconds = argVal('--seconds', 60);
if (!(seconds > 0)) throw new Error('--seconds must be > 0');
const seed = argVal('--seed', Date.now() % 2 ** 31);
const tsOnly = args.includes('--ts-only');
const nativeOnly = args.includes('--native-only');
const out = path.join(root, 'out/fuzz');

const NATIVE: Record<string, string[]> = {
  responder: ['native/responder.cc', 'native/interleave.cc', 'native/ntp_mac.cc', 'native/nts_server.cc', 'native/nts_aead.cc', 'native/aes128.cc', '-lcrypto'],
  records: ['native/timestamps.cc', 'native/addresses.cc'],
  ntp_time: [],
};

interface Row {
  name: string;
  execs: number;
  detail: string;
  crashes: number;
}

function findClang(): string | null {
  for (const cxx of ['clang++-14', 'clang++']) if (spawnSync(cxx, ['--version']).status === 0) return cxx;
  return null;
}

function runNative(budgetS: number): Row[] {
  const cxx = findClang();
  if (!cxx) {
    console.error('fuzz: no clang++ (Debian: apt-get install clang-14 libclang-rt-14-dev); the native targets cannot run');
    return [{ name: 'native targets', execs: 0, detail: 'no clang++', crashes: 1 }];
  }
  const rows: Row[] = [];
  const each = Math.max(1, Math.floor(budgetS / Object.keys(NATIVE).length));
  for (const [name, extra] of Object.entries(NATIVE)) {
    const bin = path.join(out, 'bin', name);
    const corpus = path.join(out, 'corpus', name);
    const crashes = path.join(out, 'crashes');
    for (const d of [path.dirname(bin), corpus, crashes]) mkdirSync(d, { recursive: true });
    const build = spawnSync(
      cxx,
      [
        '-std=c++17',
        '-g',
        '-O1',
        '-fsanitize=fuzzer,address,undefined',
        '-fno-sanitize-recover=undefined',
        '-o',
        bin,
        path.join(root, `native/fuzz/${name}_fuzz.cc`),
        ...extra.map((f) => (f.startsWith('-') ? f : path.join(root, f))),
      ],
      { encoding: 'utf8' },
    );
    if (build.status !== 0) {
      rows.push({ name, execs: 0, detail: `build failed: ${build.stderr.split('\n')[0]}`, crashes: 1 });
      continue;
    }
    const seeds = path.join(root, 'native/fuzz/corpus', name);
    const r = spawnSync(
      bin,
      [
        `-max_total_time=${each}`,
        '-timeout=10',
        '-rss_limit_mb=2048',
        '-print_final_stats=1',
        `-artifact_prefix=${crashes}/${name}-`,
        corpus,
        ...(existsSync(seeds) ? [seeds] : []),
      ],
      { encoding: 'utf8', maxBuffer: 64 << 20 },
    );
    const log = r.stderr ?? '';
    const execs = Number(/stat::number_of_executed_units:\s*(\d+)/.exec(log)?.[1] ?? 0);
    const cov = [...log.matchAll(/cov: (\d+) ft: (\d+)/g)].at(-1);
    const crashed = r.status !== 0;
    if (crashed) writeFileSync(path.join(crashes, `${name}.log`), log);
    rows.push({
      name: `native ${name}`,
      execs,
      detail: `${cov ? `cov ${cov[1]} edges, ft ${cov[2]}` : 'no coverage line'}${crashed ? `; CRASH (exit ${r.status}), see out/fuzz/crashes/${name}.log` : ''}`,
      crashes: crashed ? 1 : 0,
    });
  }
  return rows;
}

function runTs(budgetS: number): Row[] {
  const rng = seededRng(seed);
  const each = (budgetS * 1000) / TARGETS.length;
  return TARGETS.map((t) => {
    const r = fuzz(t, rng, { untilMs: Date.now() + each });
    r.crashes.forEach((c, i) => {
      mkdirSync(path.join(out, 'crashes'), { recursive: true });
      writeFileSync(path.join(out, 'crashes', `ts-${t.name}-${i}`), c.input);
      console.error(`ts ${t.name}: ${c.error.split('\n').slice(0, 3).join(' | ')}`);
    });
    return { name: `ts ${t.name}`, execs: r.execs, detail: `seed ${seed}`, crashes: r.crashes.length };
  });
}

const rows = [...(tsOnly ? [] : runNative(nativeOnly ? seconds : seconds * 0.75)), ...(nativeOnly ? [] : runTs(tsOnly ? seconds : seconds * 0.25))];
for (const r of rows) console.log(`${r.name.padEnd(24)} ${String(r.execs).padStart(12)} execs  ${r.crashes} crashes  ${r.detail}`);
const total = rows.reduce((s, r) => s + r.execs, 0);
const crashes = rows.reduce((s, r) => s + r.crashes, 0);
console.log(`fuzz: ${total} executions, ${crashes} crashes`);
process.exit(crashes > 0 ? 1 : 0);
