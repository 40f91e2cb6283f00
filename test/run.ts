// Runs the uvu suites under test/<tier>/ in one process and ends with the
// line CI reads: `N passed, N failed[, N skipped]`.
//   node --import tsx test/run.ts [tier | tier/file ...]   (default: every tier but `package`)
// `package` (npm pack's contents, run by scripts/test-arm.sh after the
// prebuilds are built) and `kernel` (user-mode Linux guests, `npm run
// test:kernel`) run only when named.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const TIERS = ['unit', 'native', 'sim', 'system', 'netns', 'interop'];
const NAMED_ONLY = ['package', 'kernel'];

function find(dir: string): string[] {
  let out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(find(p));
    else if (/\.test\.[cm]?[jt]s$/.test(name)) out.push(p);
  }
  return out;
}

// A tier, or one file of a tier as `tier/name` (without .test.ts).
const wanted = process.argv.slice(2);
const tiers = wanted.length ? wanted : TIERS;
for (const t of tiers) {
  const tier = t.split('/')[0]!;
  if (!TIERS.includes(tier) && !NAMED_ONLY.includes(tier)) throw new Error(`unknown test tier ${tier}; tiers: ${[...TIERS, ...NAMED_ONLY].join(', ')}`);
}
const files = tiers.flatMap((t) => {
  if (t.includes('/')) {
    const one = find(path.join(here, path.dirname(t))).filter((f) => path.basename(f).replace(/\.test\.[cm]?[jt]s$/, '') === path.basename(t));
    if (one.length === 0) throw new Error(`no test file ${t}`);
    return one;
  }
  try {
    return find(path.join(here, t));
  } catch {
    return [];
  }
});

type Outcome = [errs: string | true, ran: number, skipped: number, max: number];
const g = globalThis as unknown as { UVU_DEFER: number; UVU_INDEX: number; UVU_QUEUE: Array<Array<unknown>> };
g.UVU_DEFER = 1;
const uvu = await import('uvu');
g.UVU_QUEUE ??= [];
let idx = 0;
for (const f of files) {
  g.UVU_INDEX = idx++;
  g.UVU_QUEUE.push([path.relative(here, f)]);
  await import(pathToFileURL(f).href);
}

let passed = 0,
  failed = 0,
  skipped = 0;
for (const group of g.UVU_QUEUE) {
  for (let i = 1; i < group.length; i++) {
    const run = group[i] as () => Promise<Outcome>;
    group[i] = async () => {
      const r = await run();
      passed += r[1];
      failed += r[3] - r[1];
      skipped += r[2];
      return r;
    };
  }
}
await uvu.exec(false);
if (files.length === 0) failed++;
// Tests that could not run here (a tool or privilege missing; under CI that is a failure instead), by name.
const skippedNames = (globalThis as { CT_SKIPPED_TESTS?: string[] }).CT_SKIPPED_TESTS ?? [];
if (skippedNames.length) console.log(`skipped here:\n${skippedNames.map((n) => `  - ${n}`).join('\n')}`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
