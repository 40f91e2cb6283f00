// The control socket: a Unix stream socket, one JSON request line in, one
// JSON answer line out. `clocktower status` is its client. The socket file
// is created by the daemon that holds the state-dir lock, so removing a
// stale one at start cannot take it from a running daemon.
import { chmodSync, unlinkSync } from 'node:fs';
import net from 'node:net';

import { ClocktowerError } from '../util/errors.js';

export type ControlRequest = { cmd: 'status' };
export type ControlHandler = (req: ControlRequest) => unknown;

const MAX_REQUEST = 4096;

export async function serveControl(socketPath: string, handle: ControlHandler): Promise<net.Server> {
  try {
    unlinkSync(socketPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const server = net.createServer((conn) => {
    let buf = '';
    conn.setEncoding('utf8');
    conn.setTimeout(2000, () => conn.destroy());
    conn.on('error', () => conn.destroy());
    conn.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_REQUEST) return conn.end(JSON.stringify({ error: 'request too long' }) + '\n');
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      let answer: unknown;
      try {
        const req = JSON.parse(buf.slice(0, nl)) as { cmd?: unknown };
        answer = req.cmd === 'status' ? handle(req as ControlRequest) : { error: `unknown command ${JSON.stringify(req.cmd)}` };
      } catch (e) {
        answer = { error: `bad request: ${(e as Error).message}` };
      }
      conn.end(JSON.stringify(answer, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) + '\n');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // The group may read status; nobody else (the daemon's user owns the file).
  chmodSync(socketPath, 0o660);
  return server;
}

export async function controlRequest(socketPath: string, req: ControlRequest, timeoutMs = 3000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const conn = net.connect(socketPath);
    let buf = '';
    const fail = (why: string, code: string) => {
      conn.destroy();
      reject(new ClocktowerError(code, why));
    };
    conn.setEncoding('utf8');
    conn.setTimeout(timeoutMs, () => fail(`no answer from ${socketPath} within ${timeoutMs} ms`, 'ETIMEDOUT'));
    conn.on('connect', () => conn.write(JSON.stringify(req) + '\n'));
    conn.on('data', (c: string) => (buf += c));
    conn.on('error', (e: NodeJS.ErrnoException) => {
      const hint = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? ' (is clocktower running? pass --socket or --config)' : '';
      fail(`cannot reach ${socketPath}: ${e.code ?? e.message}${hint}`, e.code ?? 'ECONTROL');
    });
    conn.on('end', () => {
      try {
        resolve(JSON.parse(buf));
      } catch {
        reject(new ClocktowerError('ECONTROL', `bad answer from ${socketPath}`));
      }
    });
  });
}
