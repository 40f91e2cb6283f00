// The daemon's NTS (RFC 8915) shell: the cookie master keys (kept in the
// state directory and rotated), the NTS-KE server that runs while this node
// is the elected server, and NTS-KE runs for the NTP client's NTS sources.
// The protocol itself is in src/ntp/nts*.ts; answering NTS requests is the
// native server's (native/nts_server.cc), given the master keys.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

import { sivAead } from '../native/nts-aead.js';
import { CookieJar, type MasterKey } from '../ntp/nts.js';
import type { NtsSessionResult } from '../sync/nts-source.js';
import { ClocktowerError, errorCode } from '../util/errors.js';
import type { Config } from './config.js';
import { formatHostPort } from './hostport.js';
import type { Logger } from './log.js';
import { fetchNtsSession } from './nts-ke-client.js';
import { startNtsKeServer, type NtsKeServer } from './nts-ke-server.js';
import { newMasterKey, readMasterKeys, writeMasterKeys } from './nts-keys.js';

const random = (n: number) => new Uint8Array(randomBytes(n));
/** A timer longer than this is re-armed in steps (setTimeout's limit is 2^31 - 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

function readPem(key: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new ClocktowerError('ERR_NTS_FILE', `[nts] ${key} ${file}: cannot read (${errorCode(e)})`);
  }
}

export interface NtsStatus {
  ke_server: { port: number; sessions: number; errors: number; tls_failures: number } | null;
  ke_server_error: string | null;
  master_keys: number;
  rotations: number;
  ke_client: { runs: number; failures: number };
}

export class NtsService {
  /** The cookie jar when this node can serve NTS (a certificate is configured), else null. */
  readonly jar: CookieJar | null;
  readonly #cfg: Config;
  readonly #log: Logger;
  readonly #onKeys: (keys: readonly MasterKey[]) => void;
  readonly #cert: Buffer | null = null;
  readonly #key: Buffer | null = null;
  readonly #ca: Buffer | undefined;
  #createdMs = 0;
  #ke: NtsKeServer | null = null;
  #keWanted = false;
  #keStarting = false;
  #keError: string | null = null;
  #rotateTimer: NodeJS.Timeout | null = null;
  readonly counters = { keRuns: 0, keFailures: 0, rotations: 0 };

  /** Reads the certificate, key and CA files (a bad one is an error naming it) and the master keys. */
  constructor(cfg: Config, log: Logger, onKeys: (keys: readonly MasterKey[]) => void) {
    this.#cfg = cfg;
    this.#log = log;
    this.#onKeys = onKeys;
    const n = cfg.nts;
    this.#ca = n?.ca ? readPem('ca', n.ca) : undefined;
    if (!n?.certificate || !n.privateKey) {
      this.jar = null;
      return;
    }
    this.#cert = readPem('certificate', n.certificate);
    this.#key = readPem('private_key', n.privateKey);
    try {
      tls.createSecureContext({ cert: this.#cert, key: this.#key });
    } catch (e) {
      throw new ClocktowerError('ERR_NTS_FILE', `[nts] certificate ${n.certificate} and private_key ${n.privateKey}: ${(e as Error).message}`);
    }
    const saved = readMasterKeys(cfg.state.dir);
    if (saved.problem) log.warn(saved.problem);
    let keys = saved.keys?.keys ?? [];
    this.#createdMs = saved.keys?.createdMs ?? 0;
    // No keys, or the newest older than a rotation period (the daemon was down): a new current key.
    if (!keys.length || Date.now() - this.#createdMs >= Number(n.keyRotationNs / 1_000_000n)) {
      keys = [newMasterKey(keys), ...keys];
      this.#createdMs = Date.now();
      this.#save(keys);
    }
    this.jar = new CookieJar(keys, sivAead, random);
    this.#armRotation();
  }

  /** The master keys the native server opens cookies with (none: it answers NTS fields as plain NTP). */
  get masterKeys(): readonly MasterKey[] {
    return this.jar?.keys ?? [];
  }

  #save(keys: readonly MasterKey[]): void {
    try {
      writeMasterKeys(this.#cfg.state.dir, { keys: [...keys], createdMs: this.#createdMs });
    } catch (e) {
      this.#log.warn('cannot save the NTS master keys; cookies will not outlive a restart', { dir: this.#cfg.state.dir, error: errorCode(e) });
    }
  }

  #armRotation(): void {
    const periodMs = Number(this.#cfg.nts!.keyRotationNs / 1_000_000n);
    const dueMs = this.#createdMs + periodMs - Date.now();
    this.#rotateTimer = setTimeout(() => (dueMs > MAX_TIMER_MS ? this.#armRotation() : this.rotate()), Math.max(0, Math.min(dueMs, MAX_TIMER_MS)));
    this.#rotateTimer.unref();
  }

  /** A new current master key; the oldest beyond the two old ones is forgotten, with the cookies it sealed. */
  rotate(): void {
    if (!this.jar) return;
    this.jar.rotate(newMasterKey(this.jar.keys));
    this.#createdMs = Date.now();
    this.counters.rotations++;
    this.#save(this.jar.keys);
    this.#onKeys(this.jar.keys);
    this.#log.info('nts: master key rotated', { id: this.jar.keys[0]!.id, kept: this.jar.keys.length });
    if (this.#rotateTimer) clearTimeout(this.#rotateTimer);
    this.#armRotation();
  }

  /** The elected server runs NTS-KE on [nts] listen; other roles do not. */
  async serve(on: boolean): Promise<void> {
    this.#keWanted = on;
    if (!on) {
      const ke = this.#ke;
      this.#ke = null;
      await ke?.close();
      return;
    }
    if (this.#ke || this.#keStarting || !this.jar || !this.#cert || !this.#key) return;
    const at = this.#cfg.nts!.listen;
    this.#keStarting = true;
    try {
      const ke = await startNtsKeServer({
        host: at.host,
        port: at.port,
        cert: this.#cert,
        key: this.#key,
        jar: this.jar,
        ntpPort: this.#cfg.ntp.listen[0]!.port,
      });
      if (!this.#keWanted || this.#ke) {
        await ke.close(); // the role changed while it bound
        return;
      }
      this.#ke = ke;
      this.#keError = null;
      this.#log.info('nts-ke: serving', { on: formatHostPort({ host: at.host, port: ke.port }) });
    } catch (e) {
      this.#keError = errorCode(e);
      this.#log.warn('nts-ke: cannot listen', { on: formatHostPort(at), error: this.#keError });
    } finally {
      this.#keStarting = false;
    }
  }

  /** One NTS-KE run for an NTS source; ignoreCertDates: the first-boot rule applies (docs/nts.md). */
  async fetch(address: string, port: number, serverName: string | null, ignoreCertDates: boolean): Promise<NtsSessionResult> {
    this.counters.keRuns++;
    try {
      const s = await fetchNtsSession({
        host: address,
        port,
        ...(this.#ca ? { ca: this.#ca } : {}),
        ...(serverName ? { servername: serverName } : {}),
        timeoutMs: 5000,
        ignoreCertDates,
      });
      return { keys: s.keys, cookies: s.cookies, ntpAddress: s.ntpServer, ntpPort: s.ntpPort };
    } catch (e) {
      this.counters.keFailures++;
      throw e;
    }
  }

  /** For `clocktower status` and the metrics: the KE server (while serving) and the KE runs of NTS sources. */
  status(): NtsStatus {
    const s = this.#ke?.counters;
    return {
      ke_server: this.#ke ? { port: this.#ke.port, sessions: s!.sessions, errors: s!.errors, tls_failures: s!.tlsFailures } : null,
      ke_server_error: this.#keError,
      master_keys: this.masterKeys.length,
      rotations: this.counters.rotations,
      ke_client: { runs: this.counters.keRuns, failures: this.counters.keFailures },
    };
  }

  async close(): Promise<void> {
    if (this.#rotateTimer) clearTimeout(this.#rotateTimer);
    await this.serve(false);
  }
}
