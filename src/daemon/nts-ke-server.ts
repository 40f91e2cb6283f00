// The NTS-KE server's shell (RFC 8915 §4): TLS 1.3 with ALPN ntske/1 on
// port 4460 by default; each connection's request goes through the pure
// records core, the keys come from the TLS exporter (§5.1), and the answer
// carries 8 cookies from the cookie jar (src/ntp/nts.ts). A connection is
// bounded in size and time; a bad request gets an Error record (§4.1.3).
import tls from 'node:tls';

import { buildKeError, buildKeResponse, decodeRecords, KeErrorCode, KeProtocolError, NTS_KE_ALPN, parseKeRequest } from '../ntp/nts-ke.js';
import { MAX_COOKIES, type CookieJar } from '../ntp/nts.js';
import { exportNtsKeys } from './nts-ke-client.js';

export interface NtsKeServerOptions {
  host: string;
  port: number;
  /** PEM certificate chain and private key. */
  cert: string | Buffer;
  key: string | Buffer;
  jar: CookieJar;
  /** Where clients send NTP when not to this host on 123 (§4.1.7, §4.1.8). */
  ntpServer?: string;
  ntpPort?: number;
  /** A connection that has not sent its whole request by then is closed. */
  timeoutMs?: number;
}

export interface NtsKeCounters {
  sessions: number;
  errors: number;
  tlsFailures: number;
}

export interface NtsKeServer {
  readonly port: number;
  readonly counters: NtsKeCounters;
  close(): Promise<void>;
}

export async function startNtsKeServer(o: NtsKeServerOptions): Promise<NtsKeServer> {
  const counters: NtsKeCounters = { sessions: 0, errors: 0, tlsFailures: 0 };
  const server = tls.createServer({ cert: o.cert, key: o.key, ALPNProtocols: [NTS_KE_ALPN], minVersion: 'TLSv1.3' }, (socket) => {
    // A client that did not ask for ntske/1 is not an NTS-KE client (§4: ALPN is required).
    if (socket.alpnProtocol !== NTS_KE_ALPN) {
      counters.errors++;
      socket.destroy();
      return;
    }
    let got = new Uint8Array(0);
    let answered = false;
    socket.setTimeout(o.timeoutMs ?? 5000, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      if (answered) return; // one request a connection (§4): anything after it is not read
      const all = new Uint8Array(got.length + chunk.length);
      all.set(got);
      all.set(chunk, got.length);
      got = all;
      let answer: Uint8Array;
      try {
        const r = decodeRecords(got);
        if (!r.done) return;
        const req = parseKeRequest(r.records);
        const keys = exportNtsKeys(socket);
        const cookies = Array.from({ length: MAX_COOKIES }, () => o.jar.make(keys));
        answer = buildKeResponse(req, { cookies, server: o.ntpServer, port: o.ntpPort === undefined || o.ntpPort === 123 ? undefined : o.ntpPort });
        counters.sessions++;
      } catch (e) {
        counters.errors++;
        answer = buildKeError(e instanceof KeProtocolError ? e.code : KeErrorCode.InternalServerError);
      }
      answered = true;
      socket.end(answer);
    });
  });
  server.on('tlsClientError', () => counters.tlsFailures++);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : o.port,
    counters,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
