// The NTS cookie master keys (RFC 8915 §6), kept in the state directory so a
// restart does not void every client's cookies: nts-keys.json, mode 0600,
// newest first, at most the current key and OLD_MASTER_KEYS old ones. A
// missing file means new keys; a corrupt one is reported and replaced (the
// clients' cookies then draw NAKs and they run NTS-KE again), never fatal.
import { randomBytes } from 'node:crypto';
import path from 'node:path';

import { OLD_MASTER_KEYS, type MasterKey } from '../ntp/nts.js';
import { readSaved, writeFileAtomic } from './state.js';

export const NTS_KEYS_FILE = 'nts-keys.json';

export interface MasterKeys {
  keys: MasterKey[];
  /** When the newest key was made (Unix ms): rotation counts from here. */
  createdMs: number;
}

/** The saved keys, or null and why not (missing: no problem). */
export function readMasterKeys(dir: string): { keys: MasterKeys | null; problem: string | null } {
  const file = path.join(dir, NTS_KEYS_FILE);
  const r = readSaved(file);
  if (!('text' in r)) return { keys: null, problem: r.problem && `${r.problem}; new NTS master keys are made` };
  try {
    const j = JSON.parse(r.text) as { version?: unknown; created_ms?: unknown; keys?: unknown } | null;
    if (j === null || typeof j !== 'object' || j.version !== 1) throw new Error('not a version 1 key file');
    if (typeof j.created_ms !== 'number' || !Number.isFinite(j.created_ms)) throw new Error('created_ms is not a number');
    if (!Array.isArray(j.keys) || j.keys.length < 1 || j.keys.length > 1 + OLD_MASTER_KEYS) throw new Error(`keys is not a list of 1..${1 + OLD_MASTER_KEYS}`);
    const keys = j.keys.map((k: { id?: unknown; key?: unknown }, i: number) => {
      if (typeof k?.id !== 'number' || !Number.isInteger(k.id) || k.id < 0 || k.id > 0xffffffff) throw new Error(`key ${i + 1}: id is not a 32-bit integer`);
      if (typeof k.key !== 'string' || !/^[0-9a-f]{64}$/.test(k.key)) throw new Error(`key ${i + 1}: not 64 hex digits`);
      return { id: k.id, key: new Uint8Array(Buffer.from(k.key, 'hex')) };
    });
    if (new Set(keys.map((k) => k.id)).size !== keys.length) throw new Error('two keys share an id');
    return { keys: { keys, createdMs: j.created_ms }, problem: null };
  } catch (e) {
    return { keys: null, problem: `${file}: ignored, not a valid NTS key file (${(e as Error).message}); new NTS master keys are made` };
  }
}

export function writeMasterKeys(dir: string, k: MasterKeys): void {
  const text = JSON.stringify({ version: 1, created_ms: k.createdMs, keys: k.keys.map((m) => ({ id: m.id, key: Buffer.from(m.key).toString('hex') })) });
  writeFileAtomic(path.join(dir, NTS_KEYS_FILE), text + '\n', 0o600);
}

/** A new master key with an id none of `keys` has. */
export function newMasterKey(keys: readonly MasterKey[]): MasterKey {
  for (;;) {
    const id = randomBytes(4).readUInt32BE(0);
    if (!keys.some((k) => k.id === id)) return { id, key: new Uint8Array(randomBytes(32)) };
  }
}
