// chronyd as a client of the native server: it must select us (`^*` in
// `chronyc sources`) with every ntpdata test passing, with and without a
// shared key.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { parseKeyFile } from '../../src/ntp/auth.js';
import { realtimeNs } from '../../src/native/clock.js';
import { NtpServer } from '../../src/native/server.js';
import { freePort, startChronyd } from '../helpers/chrony.js';
import { need, testIf } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait.js';

const KEYS = '7 AES128 HEX:0F0E0D0C0B0A09080706050403020100\n';
const enabled = need('chronyd', 'chrony as a client of our server') && need('chronyc', "reading chronyd's view of our server");
const t = testIf(enabled, 'chronyd and chronyc are not installed');

function chronyc(dir: string, ...args: string[]): string {
  return execFileSync('chronyc', ['-h', path.join(dir, 'chronyd.sock'), '-n', ...args], { encoding: 'utf8', timeout: 5000 });
}

/** Our server at stratum 4 on the machine's clock. */
function stratum4Server(port: number): NtpServer {
  const server = new NtpServer({ address: '127.0.0.1', port });
  const now = realtimeNs();
  server.setState(
    { leap: 0, stratum: 4, precisionLog2: -22, refId: 0x0a000009, referenceNs: now, rootDelayNs: 200_000, rootDispersionNs: 100_000 },
    { refSysNs: now, refNodeNs: now, freqPpm: 0 },
  );
  return server;
}

for (const keyed of [false, true]) {
  t(`chronyd -x selects our server${keyed ? ' with an AES128 key' : ''}: ^* and all ntpdata tests pass`, async () => {
    const port = freePort();
    const server = stratum4Server(port);
    if (keyed) server.setKeys(parseKeyFile(KEYS, 'keys'), { requireAuth: true });
    const chrony = await startChronyd(
      [
        `server 127.0.0.1 port ${port} iburst minpoll 0 maxpoll 0${keyed ? ' key 7' : ''}`,
        'bindcmdaddress $DIR/chronyd.sock',
        ...(keyed ? ['keyfile $DIR/keys'] : []),
      ],
      keyed ? { keys: KEYS } : {},
    );
    try {
      let sources = '';
      await waitFor(
        'chronyd to select our server',
        () => {
          sources = chronyc(chrony.dir, 'sources');
          return /^\^\*\s+127\.0\.0\.1/m.test(sources);
        },
        20_000,
      );
      const ntpdata = chronyc(chrony.dir, 'ntpdata', '127.0.0.1');
      assert.match(ntpdata, /NTP tests\s*:\s*111 111 1111/);
      assert.match(ntpdata, /Stratum\s*:\s*4/);
      assert.match(ntpdata, /Mode\s*:\s*Server/);
      if (keyed) assert.match(ntpdata, /Authenticated\s*:\s*Yes/);
      const validRx = BigInt(/Total valid RX\s*:\s*(\d+)/.exec(ntpdata)![1]!);
      assert.ok(validRx >= 1n && server.counters().answered >= validRx, 'every answer chrony accepted came from the native responder');
      assert.is(server.counters().dropBadMac, 0n);
    } finally {
      await chrony.stop();
      server.close();
    }
  });
}

t('chronyd -x with xleave gets interleaved answers from the native server: Interleaved Yes, all tests pass', async () => {
  const port = freePort();
  const server = stratum4Server(port);
  const chrony = await startChronyd([`server 127.0.0.1 port ${port} iburst minpoll 0 maxpoll 0 xleave`, 'bindcmdaddress $DIR/chronyd.sock']);
  try {
    let ntpdata = '';
    await waitFor(
      'chronyd to take an interleaved sample from our server',
      () => {
        ntpdata = chronyc(chrony.dir, 'ntpdata', '127.0.0.1');
        return /Interleaved\s*:\s*Yes/.test(ntpdata) && /^\^\*\s+127\.0\.0\.1/m.test(chronyc(chrony.dir, 'sources'));
      },
      20_000,
    );
    assert.match(ntpdata, /NTP tests\s*:\s*111 111 1111/);
    assert.ok(server.counters().answeredInterleaved >= 1n, `answered interleaved: ${server.counters().answeredInterleaved}`);
  } finally {
    await chrony.stop();
    server.close();
  }
});

test.run();
