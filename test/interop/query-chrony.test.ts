// `clocktower query` against a real chronyd (Debian's chrony, `chronyd -x`)
// on 127.0.0.1: plain, and with SHA1 and AES-128-CMAC keys shared through one
// key file in chrony's format; a wrong key is an authentication failure.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { startChronyd, type Chronyd } from '../helpers/chrony.js';
import { runCli } from '../helpers/cli.js';
import { need, testIf } from '../helpers/tools.js';

const KEYS = [
  '# shared by chronyd and clocktower',
  '1 SHA1 HEX:933F62BE1D604E68A81B557F18CFA200483F5B70',
  '2 AES128 HEX:00112233445566778899AABBCCDDEEFF',
  '3 MD5 secretpassword',
].join('\n');

let chrony: Chronyd | null = null;
const enabled = need('chronyd', 'interop tests against chrony');
const t = testIf(enabled, 'chronyd is not installed');

test.before(async () => {
  if (enabled) chrony = await startChronyd(['local stratum 8', 'allow 127.0.0.0/8', 'keyfile $DIR/keys'], { keys: KEYS });
});
test.after(async () => {
  await chrony?.stop();
});

async function queryJson(args: string[]): Promise<{ code: number | null; out: Array<Record<string, unknown>> }> {
  const r = await runCli(['query', `127.0.0.1:${chrony!.port}`, '--json', '--timeout', '0.5', ...args]);
  return { code: r.code, out: JSON.parse(r.stdout) };
}

function assertChronyLocal(o: Record<string, unknown>): void {
  assert.is(o['ok'], true, JSON.stringify(o));
  assert.is(o['stratum'], 8);
  assert.is(o['refid'], '127.127.1.1', 'chrony local reference id');
  assert.is(o['leap'], 'none');
  const off = Number(o['offset_ns']);
  assert.ok(Math.abs(off) < 1_000_000, `offset ${off} ns within ±1 ms (same machine clock)`);
  assert.ok((o['delay_ns'] as number) > 0 && (o['delay_ns'] as number) < 5_000_000);
}

t("query reports chronyd's stratum, refid and an offset within ±1 ms", async () => {
  const { code, out } = await queryJson([]);
  assert.is(code, 0);
  assert.is(out.length, 1);
  assertChronyLocal(out[0]!);
  assert.is((out[0]!['samples'] as unknown[]).length, 4, 'default --count 4');
});

t('query --interleaved against chronyd: from the third answer on, samples carry its kernel transmit stamps', async () => {
  const { code, out } = await queryJson(['--interleaved', '--count', '5', '--interval', '0.1']);
  assert.is(code, 0);
  assertChronyLocal(out[0]!);
  const samples = out[0]!['samples'] as Array<{ interleaved: boolean }>;
  assert.is(samples.length, 5);
  // chrony answers interleaved once it holds the TX stamp of a reply to a request in interleaved form: the third.
  assert.equal(
    samples.map((x) => x.interleaved),
    [false, false, true, true, true],
  );
});

for (const [id, type] of [
  [1, 'SHA1'],
  [2, 'AES128'],
  [3, 'MD5'],
] as const) {
  t(`authenticated query with a ${type} key from the shared key file`, async () => {
    const { code, out } = await queryJson(['--key', String(id), '--keyfile', path.join(chrony!.dir, 'keys'), '--count', '2']);
    assert.is(code, 0);
    assertChronyLocal(out[0]!);
  });
}

t('a wrong key is reported as an authentication failure, exit 1', async () => {
  const wrong = path.join(chrony!.dir, 'wrong-keys');
  writeFileSync(wrong, '1 SHA1 HEX:0000000000000000000000000000000000000000\n');
  const { code, out } = await queryJson(['--key', '1', '--keyfile', wrong, '--count', '1']);
  assert.is(code, 1);
  assert.is(out[0]!['ok'], false);
  assert.match(String(out[0]!['error']), /test5-auth/);
  assert.match(String(out[0]!['error']), /wrong or unknown key/);
});

t('no server answering exits 1 with a reason; a bad argument exits 2', async () => {
  const r = await runCli(['query', '127.0.0.1:9', '--count', '1', '--timeout', '0.2']);
  assert.is(r.code, 1);
  assert.match(r.stdout, /no valid answer: timeout/);
  const bad = await runCli(['query', '127.0.0.1:99999']);
  assert.is(bad.code, 1);
  assert.match(bad.stdout, /port must be 1\.\.65535/);
  const usage = await runCli(['query', '--count', 'x', '127.0.0.1']);
  assert.is(usage.code, 2);
});

test.run();
