// Reading a key file (chrony's format) from disk: the one place keys meet
// the file system. Parsing is the pure core's (src/ntp/auth.ts).
import { readFileSync } from 'node:fs';

import type { ClusterKey } from '../election/wire.js';
import { parseKeyFile, type KeyRing, type NtpKey } from '../ntp/auth.js';
import { ConfigError, errorCode } from '../util/errors.js';
import type { Config } from './config.js';

/** The keys in `file`; a file that cannot be read or parsed is a ConfigError naming it. */
export function readKeyFile(file: string): Map<number, NtpKey> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, 0, '', `cannot read key file: ${errorCode(e)}`);
  }
  return parseKeyFile(text, file);
}

/** ntp.keys: the ring the server and the client use (empty when unset). */
export function loadKeys(file: string | null): KeyRing {
  return file === null ? new Map() : readKeyFile(file);
}

/** cluster.key_file and cluster.key_id: the key the election signs with, or none. */
export function clusterKey(cfg: Config): ClusterKey | undefined {
  if (cfg.cluster.keyFile === null) return undefined;
  const keys = loadKeys(cfg.cluster.keyFile);
  const id = cfg.cluster.keyId ?? [...keys.keys()][0];
  const key = id === undefined ? undefined : keys.get(id);
  if (!key) throw new ConfigError(cfg.cluster.keyFile, 0, '', id === undefined ? 'no key in the file' : `no key ${id} in the file (cluster.key_id)`);
  if (key.secret.length < 16) throw new ConfigError(cfg.cluster.keyFile, 0, `key ${id}`, 'a cluster key needs at least 16 bytes of secret');
  return { id: key.id, secret: key.secret };
}
