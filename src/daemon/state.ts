// The node's saved state: its time floor and its clock's drift, one small
// JSON file written atomically (temp file, fsync, rename, fsync of the
// directory) so a power cut leaves the old file or the new one, never half.
// A missing, truncated or garbage file is reported and ignored. The lock file
// keeps a second daemon off the same directory (as msntp's lock file).
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, constants } from 'node:fs';
import path from 'node:path';

import { ClocktowerError } from '../util/errors.js';

export interface SavedState {
  floorNs: bigint;
  freqPpm: number;
  /** The clock has been set from an NTS source once: certificate dates count from now on ([nts] cert_time_check_after = "nts-sync"). */
  ntsTimeSet?: boolean;
}

export const STATE_FILE = 'state.json';
export const LOCK_FILE = 'clocktower.lock';

/** The saved state, or null with the reason it was not usable (missing is not a problem: reason null). */
export function readState(dir: string): { state: SavedState | null; problem: string | null } {
  const file = path.join(dir, STATE_FILE);
  const r = readSaved(file);
  return 'text' in r ? parseState(r.text, file) : { state: null, problem: r.problem };
}

/** A saved file's text, or why not: null when it is simply not there (a first start), else what went wrong. */
export function readSaved(file: string): { text: string } | { problem: string | null } {
  try {
    return { text: readFileSync(file, 'utf8') };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { problem: code === 'ENOENT' ? null : `${file}: cannot read (${code})` };
  }
}

/** A state file's text -> the state, or null and why (never throws: a corrupt file is reported, not fatal). */
export function parseState(text: string, file: string): { state: SavedState | null; problem: string | null } {
  try {
    const j = JSON.parse(text) as { version?: unknown; floor_ns?: unknown; freq_ppm?: unknown; nts_time_set?: unknown } | null;
    if (j === null || typeof j !== 'object') throw new Error('not a JSON object');
    if (j.version !== 1) throw new Error(`version ${JSON.stringify(j.version)} is not 1`);
    if (typeof j.floor_ns !== 'string' || !/^\d{1,20}$/.test(j.floor_ns)) throw new Error('floor_ns is not a decimal string');
    if (typeof j.freq_ppm !== 'number' || !Number.isFinite(j.freq_ppm) || Math.abs(j.freq_ppm) > 500) throw new Error('freq_ppm is not a number within ±500');
    if (j.nts_time_set !== undefined && typeof j.nts_time_set !== 'boolean') throw new Error('nts_time_set is not true or false');
    return { state: { floorNs: BigInt(j.floor_ns), freqPpm: j.freq_ppm, ...(j.nts_time_set ? { ntsTimeSet: true } : {}) }, problem: null };
  } catch (e) {
    return { state: null, problem: `${file}: ignored, not a valid state file (${(e as Error).message})` };
  }
}

export function writeState(dir: string, s: SavedState): void {
  const o: Record<string, unknown> = { version: 1, floor_ns: s.floorNs.toString(), freq_ppm: Math.round(s.freqPpm * 1e6) / 1e6 };
  if (s.ntsTimeSet) o['nts_time_set'] = true;
  writeFileAtomic(path.join(dir, STATE_FILE), JSON.stringify(o) + '\n', 0o644);
}

/** Writes `file` so that a power cut leaves the old text or the new, never half: temp file, fsync, rename, fsync of the directory. */
export function writeFileAtomic(file: string, text: string, mode: number): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dfd = openSync(path.dirname(file), constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the state directory for this process: creates it, then the lock file
 * with O_EXCL. A lock left by a dead process is taken over. Returns the
 * release function.
 */
export function lockStateDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const file = path.join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          unlinkSync(file);
        } catch {
          // already gone: nothing to release
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let pid = NaN;
      try {
        pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
      } catch {
        // unreadable: treat as stale
      }
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new ClocktowerError('ERR_LOCKED', `another clocktower (pid ${pid}) is running on ${dir} (lock ${file})`);
      }
      unlinkSync(file);
    }
  }
  throw new ClocktowerError('ERR_LOCKED', `cannot take the lock ${file}`);
}
