// Reading a key file (chrony's format) from disk: the one place keys meet
// the file system. Parsing is the pure core's (src/ntp/auth.ts).
import { readFileSync } from 'node:fs';

import { parseKeyFile, type NtpKey } from '../ntp/auth.js';
import { ConfigError, errorCode } from '../util/errors.js';

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
