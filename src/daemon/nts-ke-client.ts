// The NTS-KE client's shell (RFC 8915 §4): TLS 1.3 with ALPN ntske/1, the
// request and the server's answer through the pure records core
// (src/ntp/nts-ke.ts), and the C2S/S2C keys from the TLS exporter (§5.1).
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';

import {
  buildKeRequest,
  decodeRecords,
  exporterContext,
  KeProtocolError,
  NTS_KE_ALPN,
  NTS_KE_DEFAULT_PORT,
  NTS_KE_EXPORTER_LABEL,
  parseKeResponse,
} from '../ntp/nts-ke.js';
import type { NtsKeys } from '../ntp/nts.js';
import { ClocktowerError } from '../util/errors.js';

export interface NtsKeOptions {
  host: string;
  port?: number;
  /** CA certificates to trust (PEM) instead of the system's. */
  ca?: string | Buffer;
  /** The name the certificate must carry (default: host). */
  servername?: string;
  timeoutMs?: number;
  /**
   * The first-boot rule (docs/nts.md): a clock that was never set (a board
   * without an RTC at its factory date) cannot judge certificate dates, so
   * a certificate that is only not yet valid or expired is accepted when its
   * chain to a trusted CA and its name check out. Off by default.
   */
  ignoreCertDates?: boolean;
}

export interface NtsSession {
  keys: NtsKeys;
  cookies: Uint8Array[];
  /** Where to send NTS-protected NTP: the server's word, else the KE host on 123 (§4.1.7, §4.1.8). */
  ntpServer: string;
  ntpPort: number;
}

export class NtsKeError extends ClocktowerError {}

/** One key establishment: connect, ask, read the answer to its End of Message, export the keys. */
export function fetchNtsSession(o: NtsKeOptions): Promise<NtsSession> {
  const port = o.port ?? NTS_KE_DEFAULT_PORT;
  const where = `${o.host}:${port}`;
  return new Promise((resolve, reject) => {
    let got = new Uint8Array(0);
    let settled = false;
    const socket = tls.connect({
      host: o.host,
      port,
      servername: o.servername ?? (net.isIP(o.host) ? undefined : o.host),
      ca: o.ca,
      ALPNProtocols: [NTS_KE_ALPN],
      minVersion: 'TLSv1.3', // §3: TLS 1.2 or older is not allowed
      // With the first-boot rule OpenSSL's verdict is read below instead of enforced here.
      rejectUnauthorized: !o.ignoreCertDates,
    });
    const fail = (why: string, cause?: unknown) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(new NtsKeError('ERR_NTS_KE', `NTS-KE with ${where}: ${why}`, { cause }));
    };
    socket.setTimeout(o.timeoutMs ?? 5000, () => fail('timed out'));
    socket.on('error', (e) => fail((e as NodeJS.ErrnoException).code ?? e.message, e));
    socket.on('secureConnect', () => {
      if (!socket.authorized) {
        const why = datesOnlyProblem(socket, o);
        if (why) return fail(`certificate not trusted: ${why}`);
      }
      if (socket.alpnProtocol !== NTS_KE_ALPN) return fail(`the server did not agree to ${NTS_KE_ALPN} (ALPN: ${socket.alpnProtocol || 'none'})`);
      socket.write(buildKeRequest());
    });
    socket.on('data', (chunk: Buffer) => {
      const all = new Uint8Array(got.length + chunk.length);
      all.set(got);
      all.set(chunk, got.length);
      got = all;
      try {
        const r = decodeRecords(got);
        if (!r.done) return;
        const res = parseKeResponse(r.records);
        settled = true;
        const session = { keys: exportNtsKeys(socket, res.aead), cookies: res.cookies, ntpServer: res.server ?? o.host, ntpPort: res.port ?? 123 };
        socket.end();
        resolve(session);
      } catch (e) {
        fail(e instanceof KeProtocolError ? e.message : String(e), e);
      }
    });
    socket.on('end', () => fail('the server closed the connection before End of Message'));
  });
}

const DATE_ERRORS = new Set(['CERT_NOT_YET_VALID', 'CERT_HAS_EXPIRED']);

/**
 * Under the first-boot rule: null when the only fault OpenSSL found is a date
 * and the chain verifies without dates (each certificate issued and signed
 * by the next, the next a CA, the chain ending at a trusted CA) and the
 * name matches; else what is wrong. OpenSSL stops judging the rest once it
 * reports a date, so all of it is checked again here.
 */
function datesOnlyProblem(socket: tls.TLSSocket, o: NtsKeOptions): string | null {
  const err = String(socket.authorizationError ?? 'unknown');
  if (!o.ignoreCertDates || !DATE_ERRORS.has(err)) return err;
  const chain: X509Certificate[] = [];
  let c: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (c?.raw && chain.length < 10) {
    const x = new X509Certificate(c.raw);
    if (chain.length && chain.at(-1)!.fingerprint256 === x.fingerprint256) break; // a root names itself
    chain.push(x);
    c = c.issuerCertificate;
  }
  if (!chain.length) return `${err}, and no certificate to check`;
  for (let i = 0; i + 1 < chain.length; i++) {
    const [child, parent] = [chain[i]!, chain[i + 1]!];
    if (!parent.ca || !child.checkIssued(parent) || !child.verify(parent.publicKey)) return `${err}, and ${child.subject} is not signed by ${parent.subject}`;
  }
  // Anchored: a certificate of the chain is itself trusted, or its top is signed by a trusted CA.
  const trusted = trustedCas(o.ca);
  const prints = new Set(trusted.map((t) => t.fingerprint256));
  const top = chain.at(-1)!;
  const anchored = chain.some((x) => prints.has(x.fingerprint256)) || trusted.some((t) => t.ca && top.checkIssued(t) && top.verify(t.publicKey));
  if (!anchored) return `${err}, and the chain does not end at a trusted CA`;
  const name = o.servername ?? o.host;
  const id = tls.checkServerIdentity(name, socket.getPeerCertificate());
  return id ? `${err}, and ${id.message}` : null;
}

/** The CAs a client trusts: those given (PEM, any number), else Node's bundled roots. */
function trustedCas(ca: string | Buffer | undefined): X509Certificate[] {
  const pems = ca === undefined ? [...tls.rootCertificates] : (String(ca).match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []);
  return pems.map((p) => new X509Certificate(p));
}

/** The C2S and S2C keys of an NTS-KE session, from the TLS exporter (RFC 8915 §5.1); client and server alike. */
export function exportNtsKeys(socket: tls.TLSSocket, aead?: number): NtsKeys {
  const key = (dir: 'c2s' | 's2c') => new Uint8Array(socket.exportKeyingMaterial(32, NTS_KE_EXPORTER_LABEL, Buffer.from(exporterContext(dir, aead))));
  return { c2s: key('c2s'), s2c: key('s2c') };
}
