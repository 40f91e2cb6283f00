// One server worker thread (see server-threads.ts): an NtpServer on the
// shared port with SO_REUSEPORT, configured by messages from the main thread.
import { parentPort, workerData } from 'node:worker_threads';

import { errorCode } from '../util/errors.js';
import { NtpServer } from './server.js';
import type { FromWorker, ToWorker, WorkerData } from './server-threads.js';

const data = workerData as WorkerData;
const port = parentPort!;
const post = (m: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

let server: NtpServer | undefined;
try {
  server = new NtpServer(
    { address: data.address, port: data.port, reusePort: true, ipv6Only: data.ipv6Only, sharedCounters: data.counters },
    {
      // Rare (replies to our own client, broadcasts): a copy of the used part of the slab.
      onBatch: (batch) => {
        const copy = batch.copyAll();
        post({ op: 'slow', ...copy }, [copy.slab]);
      },
    },
  );
  post({ op: 'ready' });
} catch (e) {
  post({ op: 'error', code: errorCode(e), message: (e as Error).message });
  process.exit(1);
}

port.on('message', (m: ToWorker) => {
  if (!server) return;
  switch (m.op) {
    case 'state':
      return server.setState(m.state, m.clock);
    case 'access':
      return server.setAccess(m.access);
    case 'rateLimit':
      return server.setRateLimit(m.rateLimit);
    case 'keys':
      return server.setKeys(m.keys, { requireAuth: m.requireAuth });
    case 'ntsKeys':
      return server.setNtsKeys(m.keys);
    case 'interleaved':
      return server.setInterleaved(m.entries);
    case 'ping':
      return post({ op: 'pong', id: m.id });
    case 'close':
      server.close();
      port.close();
  }
});
