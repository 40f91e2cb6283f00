// A board's first boot on a real kernel clock (test/helpers/uml.ts): the
// guest's clock at 1970, the daemon in system mode started as systemd would
// start it (Type=notify), wait-sync holding the boot until the clock is set;
// and the same boot taking its first time through NTS (the first-boot rule).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { selfSignedCert } from '../helpers/certs.js';
import { testIf } from '../helpers/tools.js';
import { canUseUml, HOST_ADDRESS, runBoard } from '../helpers/uml.js';

const t = testIf(canUseUml(), 'user-mode Linux guests cannot run here (the reason is above)');

interface KernelState {
  state: number;
  synced: boolean;
  pll: boolean;
  freqPpm: number;
  maxErrorUs: number;
  estErrorUs: number;
}
interface FirstBoot {
  boot: { time: string; kernel: KernelState };
  waitNoDaemon: { code: number; out: string };
  waitSync: { code: number; out: string };
  waitSyncS: number;
  synced: { kernel: KernelState; error: { offsetNs: number; delayNs: number } };
  later: { kernel: KernelState; error: { offsetNs: number; delayNs: number } };
  steps: { at: string; byMs: number }[];
  lostAfterS: number;
  lost: { kernel: KernelState };
  waitLost: { code: number; out: string };
  notify: string[];
  stepLines: string[];
}

t(
  'first boot at 1970: one step to the upstream, then slews; STA_UNSYNC cleared once synced and set when the source is lost; wait-sync and sd_notify',
  async () => {
    const run = await runBoard<FirstBoot>('boot', 'first-boot', [], 240_000);
    const r = run.result;
    assert.ok(r, 'the scenario wrote its result');
    assert.ok(r.boot.time.startsWith('1970-01-02'), `the board booted at the factory date: ${r.boot.time}`);
    assert.is(r.boot.kernel.synced, false, 'a fresh kernel is unsynchronised');
    // wait-sync before any daemon: a timeout with a reason, not a hang or a crash.
    assert.is(r.waitNoDaemon.code, 1);
    assert.match(r.waitNoDaemon.out, /not synchronised after 2 s: no node answering/);
    // wait-sync returns once the daemon has set the clock.
    assert.is(r.waitSync.code, 0, r.waitSync.out);
    assert.match(r.waitSync.out, /^synchronised: (server, stratum 2|looking for a server), synchronised/m, r.waitSync.out);
    // Exactly one step, the factory date to now; none after.
    assert.is(r.steps.length, 1, `steps seen: ${JSON.stringify(r.steps)}`);
    assert.ok(r.steps[0]!.byMs > 1.7e12, `the step moved the clock by years: ${r.steps[0]!.byMs} ms`);
    assert.is(r.stepLines.length, 1, r.stepLines.join('\n'));
    // The kernel knows: STA_UNSYNC off, error bounds set (µs), the PLL left off (we slew by frequency).
    for (const k of [r.synced.kernel, r.later.kernel]) {
      assert.is(k.synced, true, 'STA_UNSYNC cleared');
      assert.ok(k.maxErrorUs > 0 && k.maxErrorUs < 100_000, `maxerror ${k.maxErrorUs} µs`);
      assert.ok(k.estErrorUs > 0 && k.estErrorUs <= k.maxErrorUs, `esterror ${k.estErrorUs} µs`);
      assert.is(k.pll, false);
    }
    // The clock is on the upstream's time (offset bounded by the link's delay).
    assert.ok(Math.abs(r.later.error.offsetNs) < 1e6, `error 15 s after sync: ${r.later.error.offsetNs} ns`);
    // Source lost: the kernel is told, and wait-sync says so.
    assert.is(r.lost.kernel.synced, false, 'STA_UNSYNC set again when the source is lost');
    assert.is(r.waitLost.code, 1);
    assert.match(r.waitLost.out, /not synchronised after 2 s: .*not synchronised/);
    // sd_notify: READY=1 with a STATUS=, then status lines that follow the role and the offset.
    assert.match(r.notify[0] ?? '', /^READY=1\nSTATUS=/);
    assert.ok(
      r.notify.some((m) => /^STATUS=server, stratum 2, synchronised, offset [+-]\d+\.\d{3} ms$/.test(m)),
      r.notify.join(' | '),
    );
    assert.ok(r.notify.includes('STOPPING=1'), r.notify.join(' | '));
  },
);

interface NtsBoot {
  enforced: { time: string; synced: boolean; nts: { ke_failures: number; last_error: string | null; cookies: number }; accepted: number };
  waitSync: { code: number; out: string };
  synced: { time: string; kernel: KernelState; error: { offsetNs: number; delayNs: number }; nts: { cookies: number; naks: number } | null };
  saved: { nts_time_set?: boolean };
  ruleLines: string[];
  stepLines: string[];
}

t(
  'first boot at 1970 with NTS: the certificate is "not yet valid" to the board; dates enforced, no time; with the first-boot rule, one step through NTS, saved',
  async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ct-kernel-nts-'));
    try {
      // Valid from today: to a board at 1970, not yet valid, as every real certificate is.
      const c = selfSignedCert({ names: [], ips: [HOST_ADDRESS] });
      const cert = path.join(dir, 'cert.pem');
      const key = path.join(dir, 'key.pem');
      writeFileSync(cert, c.cert);
      writeFileSync(key, c.key, { mode: 0o600 });
      const run = await runBoard<NtsBoot>('ntsboot', 'nts-first-boot', ['--nts-ke', '4460', '--cert', cert, '--key', key], 240_000, [cert]);
      const r = run.result;
      assert.ok(r, 'the scenario wrote its result');
      assert.ok(r.enforced.time.startsWith('1970-01-0'), `still at the factory date: ${r.enforced.time}`);
      assert.is(r.enforced.synced, false);
      assert.is(r.enforced.accepted, 0);
      assert.match(r.enforced.nts.last_error ?? '', /CERT_NOT_YET_VALID/);
      assert.is(r.waitSync.code, 0, r.waitSync.out);
      assert.ok(!r.synced.time.startsWith('1970'), `stepped to the upstream's time: ${r.synced.time}`);
      assert.is(r.synced.kernel.synced, true, 'STA_UNSYNC cleared');
      assert.ok(Math.abs(r.synced.error.offsetNs) < 1e6, `error after sync: ${r.synced.error.offsetNs} ns`);
      assert.ok(r.synced.nts && r.synced.nts.cookies >= 1 && r.synced.nts.naks === 0, JSON.stringify(r.synced.nts));
      assert.is(r.saved.nts_time_set, true, 'state.json says the clock has had NTS time');
      assert.is(r.ruleLines.length, 1, 'logged once: dates count from now on');
      assert.is(r.stepLines.length, 1, r.stepLines.join('\n'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test.run();
