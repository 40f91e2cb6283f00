// A fixed, seeded pass of the property fuzz targets (test/fuzz/targets.ts):
// every parser facing the network or the disk survives mutated input and
// keeps its properties. `npm run fuzz` runs the same targets for longer.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { seededRng } from '../../src/util/rng.js';
import * as targets from '../fuzz/targets.js';

const { fuzz, TARGETS } = targets;
import { testSeed } from '../helpers/seed.js';

for (const target of TARGETS) {
  test(`fuzz ${target.name}: 3000 mutated inputs, no escaped exception, properties hold`, () => {
    const seed = testSeed(0xf022 + target.name.length);
    const r = fuzz(target, seededRng(seed), { maxExecs: 3000 });
    assert.is(r.execs, 3000);
    const first = r.crashes[0];
    assert.is(r.crashes.length, 0, first ? `input ${Buffer.from(first.input).toString('hex')} (seed ${seed}): ${first.error}` : '');
  });
}

test('the response target reaches the accepting path (the seeds include a reply that passes)', () => {
  assert.ok(targets.accepted > 0, `accepted ${targets.accepted}`);
});

test('a target that throws is caught and reported with its input', () => {
  const r = fuzz(
    {
      name: 'boom',
      seeds: [Uint8Array.of(1)],
      run: (b) => {
        if (b.length > 1) throw new Error('too long');
      },
    },
    seededRng(1),
    { maxExecs: 500 },
  );
  assert.ok(r.crashes.length > 0);
  assert.match(r.crashes[0]!.error, /too long/);
  assert.ok(r.crashes[0]!.input.length > 1);
});

test.run();
