// sd_notify through the addon (native/notify.cc): a datagram reaches a real
// AF_UNIX socket (python3 listens: Node has no AF_UNIX datagrams), by path and
// by abstract name; bad socket names are refused before any syscall, and a
// missing socket fails with its errno code.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { notifySocketSend } from '../../src/native/notify.js';
import { need, testIf } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait.js';

const t = testIf(need('python3', 'a notify socket to receive on'), 'python3 is not installed');

/** python3 binds `address` (a path, or '@name') and writes the first datagram to `out`. */
async function receiver(address: string, out: string) {
  const py = 'import socket,sys\na=sys.argv[1]\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind("\\0"+a[1:] if a[0]=="@" else a)\nprint("ready",flush=True)\nopen(sys.argv[2],"wb").write(s.recv(4096))\n';
  const child = spawn('python3', ['-c', py, address, out], { stdio: ['ignore', 'pipe', 'inherit'] });
  let said = '';
  child.stdout!.on('data', (d) => (said += d));
  await waitFor('the receiver', () => said.includes('ready'), 5000);
  return child;
}

t('READY=1 and STATUS= reach a notify socket by path and by abstract name', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ct-notify-'));
  try {
    for (const address of [path.join(dir, 'notify.sock'), `@ct-notify-${process.pid}`]) {
      const out = path.join(dir, 'got');
      rmSync(out, { force: true });
      const child = await receiver(address, out);
      notifySocketSend(address, 'READY=1\nSTATUS=server, stratum 2');
      await waitFor('the datagram', () => existsSync(out) && readFileSync(out, 'utf8').length > 0, 5000);
      assert.is(readFileSync(out, 'utf8'), 'READY=1\nSTATUS=server, stratum 2');
      child.kill();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad notify sockets: a relative path, an over-long one, an empty message, nobody listening', () => {
  assert.throws(() => notifySocketSend('run/notify', 'READY=1'), (e: Error & { code?: string }) => e.code === 'ERR_NOTIFY_SOCKET');
  assert.throws(() => notifySocketSend('/' + 'x'.repeat(200), 'READY=1'), (e: Error & { code?: string }) => e.code === 'ERR_NOTIFY_SOCKET');
  assert.throws(() => notifySocketSend('/tmp/x', ''), (e: Error & { code?: string }) => e.code === 'ERR_NOTIFY_MESSAGE');
  assert.throws(() => notifySocketSend(path.join(tmpdir(), `ct-no-such-${process.pid}.sock`), 'READY=1'), (e: Error & { code?: string }) => e.code === 'ENOENT');
});

test.run();
