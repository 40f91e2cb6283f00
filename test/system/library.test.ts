// The library as a user imports it ('clocktower' resolves to the built
// dist/ through package.json "exports"): the library example (docs/usage.md) runs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

test("import from 'clocktower': a Daemon started from a parsed config serves time that query() accepts", async () => {
  const { query, Daemon, parseConfig, createLogger, Server } = await import('clocktower');
  assert.type(Server, 'function');
  const dir = mkdtempSync(path.join(tmpdir(), 'ct-lib-'));
  const lines: string[] = [];
  const cfg = parseConfig(
    `[node]\nid = "lib"\n[ntp]\nlisten = ["127.77.3.1:11195"]\n[cluster]\nlisten = "127.77.3.1:12395"\n[clock]\nstart = "1970-01-01T00:00:00Z"\n[state]\ndir = "${dir}"\n[control]\nsocket = "${dir}/s.sock"\n`,
    'lib.toml',
  );
  const daemon = await Daemon.start(cfg, { log: createLogger('info', (l) => lines.push(l)) });
  try {
    const end = Date.now() + 10_000;
    while (daemon.status().role !== 'server' && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    assert.is(daemon.status().role, 'server');
    const [r] = await query(['127.77.3.1:11195'], { count: 1 });
    assert.ok(r!.ok, r!.error ?? '');
    assert.is(r!.best!.stratum, 10);
    // The node's clock started at 1970: the served time says so.
    assert.ok(r!.best!.offsetNs < -1_700_000_000_000_000_000n);
  } finally {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(lines.some((l) => /role none -> server/.test(l)));
});

test.run();
