// The cores stay pure and the config stays loadable without the addon
// (shared/STYLE.md: pure cores, thin shell): the import graph of every file
// in the pure folders reaches no I/O module and no part of src/native/, and
// the config parser with check-config reaches no addon, so both run where
// nothing was compiled.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { treeRoot } from '../helpers/node.js';

const SRC = path.join(treeRoot, 'src');
const PURE = ['ntp', 'sync', 'election', 'cluster', 'sim', 'util'];
/** Node modules a pure core may use: address syntax (isIP), hashing/MACs, path and URL strings; no I/O. */
const PURE_NODE = new Set(['node:net', 'node:crypto', 'node:path', 'node:url']);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every module `entry` reaches: local files (resolved) and bare or node: specifiers, with who imported them. */
function closure(entry: string): Map<string, string> {
  const seen = new Map<string, string>([[entry, '(entry)']]);
  const queue = [entry];
  while (queue.length) {
    const file = queue.pop()!;
    const text = readFileSync(file, 'utf8');
    // Type-only imports vanish at run time.
    for (const m of text.matchAll(/^(?:import|export)\s+(?!type\b)[^'"]*?from\s+'([^']+)'/gm)) {
      const spec = m[1]!;
      const key = spec.startsWith('.') ? path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')) : spec;
      if (seen.has(key)) continue;
      seen.set(key, path.relative(treeRoot, file));
      if (spec.startsWith('.')) queue.push(key);
    }
  }
  return seen;
}

test('the pure folders reach no I/O module and nothing of src/native', () => {
  for (const folder of PURE) {
    for (const f of files(path.join(SRC, folder))) {
      for (const [mod, from] of closure(f)) {
        const rel = path.relative(treeRoot, mod);
        assert.ok(!rel.startsWith('src/native/') && !rel.startsWith('src/daemon/'), `${path.relative(treeRoot, f)} reaches ${rel} (through ${from})`);
        if (!mod.startsWith('/')) assert.ok(PURE_NODE.has(mod), `${path.relative(treeRoot, f)} reaches ${mod} (through ${from})`);
      }
    }
  }
});

test('the config parser, the command line and check-config load no addon', () => {
  for (const entry of ['src/daemon/config.ts', 'src/cli/check-config.ts', 'src/cli/main.ts']) {
    for (const [mod, from] of closure(path.join(treeRoot, entry))) {
      const rel = path.relative(treeRoot, mod);
      assert.ok(!rel.startsWith('src/native/') && !/node-gyp-build|\.node$/.test(mod), `${entry} reaches ${rel} (through ${from})`);
    }
  }
});

test('the unit tier loads no addon: it runs where nothing was compiled', () => {
  for (const f of files(path.join(treeRoot, 'test', 'unit')).concat(files(path.join(treeRoot, 'test', 'fuzz')))) {
    for (const [mod, from] of closure(f)) {
      const rel = path.relative(treeRoot, mod);
      assert.ok(!rel.startsWith('src/native/'), `${path.relative(treeRoot, f)} reaches ${rel} (through ${from})`);
    }
  }
});

test('the checker itself sees an import of the addon', () => {
  const reached = [...closure(path.join(SRC, 'native', 'clock.ts')).keys()].map((m) => path.relative(treeRoot, m));
  assert.ok(reached.includes('src/native/binding.ts'), reached.join(', '));
});

test.run();
