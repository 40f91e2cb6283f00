// Runs the uvu suites under test/<tier>/ in one process and ends with the
// line CI reads: `N passed, N failed[, N skipped]`.
//   node --import tsx test/run.ts [tier ...]   (default: every tier)
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const TIERS = ['unit', 'native', 'sim', 'system', 'netns', 'interop'];

function find(dir: string): string[] {
  let out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(find(p));
    else if (/\.test\.[cm]?[jt]s$/.test(name)) out.push(p);
  }
  return out;
}

const wanted = process.argv.slice(2);
const tiers = wanted.length ? wanted : TIERS;
for (const t of tiers) if (!TIERS.includes(t)) throw new Error(`unknown test tier ${t}; tiers: ${TIERS.join(', ')}`);
const files = tiers.flatMap((t) => {
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

let passed = 0, failed = 0, skipped = 0;
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
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
