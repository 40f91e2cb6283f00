// ntpsec's ntpdig and ntpdate insist on port 123, so the native server runs
// in a private network namespace of its own; both must accept its answers.
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { root } from '../helpers/cli.js';
import { canUseNetns, createNetns, type Netns } from '../helpers/netns.js';
import { need, testIf } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait.js';

const enabled = canUseNetns() && need('ntpdig', 'ntpsec client interop') && need('ntpdate', 'ntpdate interop');
const t = testIf(enabled, 'needs root, ip netns, ntpdig and ntpdate');
let ns: Netns | null = null;
let server: ReturnType<Netns['spawn']> | null = null;
let out = '';

test.before(async () => {
  if (!enabled) return;
  ns = createNetns('dig');
  server = ns.spawn(process.execPath, ['--import', 'tsx', path.join(root, 'test/interop/fixtures/serve.ts'), '127.0.0.1', '123', '3']);
  server.stdout!.on('data', (d) => (out += d));
  server.stderr!.on('data', (d) => (out += d));
  await waitFor('server ready', () => out.includes('ready'), 15_000);
});

test.after(async () => {
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await waitFor('server exit', () => server!.exitCode !== null, 5000).catch(() => server!.kill('SIGKILL'));
  }
  ns?.destroy();
});

t('ntpdig accepts our answers: stratum 3, offset within 1 ms', () => {
  const j = JSON.parse(ns!.exec('ntpdig', ['-j', '-p', '2', '-t', '2', '127.0.0.1']));
  assert.is(j.stratum, 3);
  assert.is(j.leap, 'no-leap');
  assert.ok(Math.abs(j.offset) < 0.001, `offset ${j.offset}`);
  assert.is(j.adjusted, false, 'query only: the clock is never set');
});

t('ntpdate -q accepts our answers', () => {
  const text = ns!.exec('ntpdate', ['-q', '127.0.0.1']);
  const m = /([+-]\d+\.\d+) \+\/- [\d.]+ 127\.0\.0\.1 s3 no-leap/.exec(text);
  assert.ok(m, text);
  assert.ok(Math.abs(Number(m![1])) < 0.001);
});

test.run();
