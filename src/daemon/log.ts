// One line per meaningful event: "LEVEL message key=value ...". No per-packet
// lines; bursts of the same warning (auth failures) are summarised by the
// caller. Under systemd the journal adds the time, so the time is optional.
import type { LogLevel } from './config.js';

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export type Fields = Record<string, string | number | bigint | boolean | null | undefined>;

export interface Logger {
  level: LogLevel;
  debug(msg: string, f?: Fields): void;
  info(msg: string, f?: Fields): void;
  warn(msg: string, f?: Fields): void;
  error(msg: string, f?: Fields): void;
}

function fmt(v: Fields[string]): string {
  const s = String(v);
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
}

export function createLogger(level: LogLevel, write: (line: string) => void = (l) => process.stderr.write(l + '\n'), opts: { time?: boolean } = {}): Logger {
  const log =
    (lvl: LogLevel) =>
    (msg: string, f: Fields = {}) => {
      if (RANK[lvl] < RANK[logger.level]) return;
      const kv = Object.entries(f)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => ` ${k}=${fmt(v)}`)
        .join('');
      write(`${opts.time ? new Date().toISOString() + ' ' : ''}${lvl.toUpperCase().padEnd(5)} ${msg}${kv}`);
    };
  const logger: Logger = { level, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
  return logger;
}
