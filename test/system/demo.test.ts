// `clocktower demo` runs to completion: four real daemons act out the seed's story.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { runCli } from '../helpers/cli.js';

test('clocktower demo: D serves, B takes over when A cannot, D rejoins as a client', async () => {
  const r = await runCli(['demo', '--base-ip', '130'], 120_000);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /act 1: D serves, everyone agrees/);
  assert.match(r.stdout, /A {2}could not start serving NTP attempt=3 gave_up=true/);
  assert.match(r.stdout, /act 2: A cannot serve, so B does/);
  assert.match(r.stdout, /act 3: D joins B as a client/);
  // The final table: B serves, the others follow it.
  const act3 = r.stdout.slice(r.stdout.indexOf('act 3: D joins'));
  assert.match(act3, /B\s+server\s+B/);
  for (const n of ['A', 'C', 'D']) assert.match(act3, new RegExp(`${n}\\s+client\\s+B\\s+11`));
  assert.match(r.stdout, /demo finished: every act settled/);
});

test.run();
