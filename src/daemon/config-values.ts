// The pieces config.ts checks values with: typed checkers that throw a
// plain message, and a Reader that turns the message into a ConfigError with
// the file, line and key (lines found by a scan of the text, since the TOML
// parser keeps none).
import net from 'node:net';

import { TomlDate } from 'smol-toml';

import { encodeCidr } from '../util/ip.js';
import { ConfigError } from '../util/errors.js';
import { parseHostPort, type HostPort } from './hostport.js';

const UNITS_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** "1s", "128ms", "1.5s", "2m" -> ns. A bare number is refused: the unit is part of the value. */
export function parseDurationNs(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m|h)\s*$/.exec(text);
  if (!m) throw new Error(`bad duration ${JSON.stringify(text)}: write a number and a unit (ns, us, ms, s, m, h), e.g. "1s"`);
  return Number(m[1]) * UNITS_NS[m[2]!]!;
}

export type Check<T> = (v: unknown) => T;

export const typeName = (v: unknown): string => (Array.isArray(v) ? 'array' : v instanceof TomlDate ? 'datetime' : typeof v === 'object' ? 'table' : typeof v);
export function want(kind: string, v: unknown): never {
  throw new Error(`expected ${kind}, got ${typeName(v)}${typeof v === 'string' || typeof v === 'number' ? ` ${JSON.stringify(v)}` : ''}`);
}

export const str: Check<string> = (v) => (typeof v === 'string' ? v : want('a string', v));
export const bool: Check<boolean> = (v) => (typeof v === 'boolean' ? v : want('true or false', v));
export const int =
  (min: number, max: number): Check<number> =>
  (v) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) want('an integer', v);
    if ((v as number) < min || (v as number) > max) throw new Error(`must be ${min}..${max}, got ${v}`);
    return v as number;
  };
export const oneOf =
  <T extends string>(...values: T[]): Check<T> =>
  (v) => {
    if (typeof v !== 'string' || !values.includes(v as T))
      throw new Error(`must be one of ${values.map((x) => JSON.stringify(x)).join(', ')}, got ${JSON.stringify(v)}`);
    return v as T;
  };
export const duration =
  (minNs: number, maxNs: number): Check<number> =>
  (v) => {
    if (typeof v === 'number') throw new Error(`a duration needs a unit: write "${v}s" or "${v}ms"`);
    const ns = parseDurationNs(str(v));
    if (ns < minNs || ns > maxNs) throw new Error(`must be between ${minNs / 1e9}s and ${maxNs / 1e9}s, got ${JSON.stringify(v)}`);
    return ns;
  };
export const list =
  <T>(item: Check<T>): Check<T[]> =>
  (v) => {
    if (!Array.isArray(v)) want('an array', v);
    return (v as unknown[]).map((x, i) => {
      try {
        return item(x);
      } catch (e) {
        throw new Error(`item ${i + 1}: ${(e as Error).message}`);
      }
    });
  };
/** An IP literal with a port: sockets bind to addresses, not names. */
export const ipPort =
  (defaultPort: number): Check<HostPort> =>
  (v) => {
    const text = str(v);
    const hp = parseHostPort(text, defaultPort);
    if (net.isIP(hp.host.split('%')[0]!) === 0)
      throw new Error(`${JSON.stringify(text)} is not an IP address (write e.g. "0.0.0.0:${defaultPort}" or "[::]:${defaultPort}")`);
    return hp;
  };
export const hostPort =
  (defaultPort: number): Check<HostPort> =>
  (v) =>
    parseHostPort(str(v), defaultPort);
export const cidr: Check<string> = (v) => {
  encodeCidr(str(v));
  return v as string;
};
export const filePath: Check<string> = (v) => {
  const p = str(v);
  if (!p) throw new Error('empty path');
  return p;
};
export const pollLog2 = int(-4, 17);

export function startTime(v: unknown): bigint {
  const text = v instanceof TomlDate ? v.toISOString() : str(v);
  const m = /^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/i.exec(text);
  const ms = m ? Date.parse(`${m[1]}T${m[2]}${m[4]!.toUpperCase()}`) : NaN;
  if (!m || Number.isNaN(ms)) throw new Error(`bad time ${JSON.stringify(text)}: write RFC 3339 with a zone, e.g. "1970-01-01T00:00:00Z"`);
  if (ms < 0) throw new Error('must not be before 1970');
  const frac = m[3] ? BigInt(m[3].slice(1).padEnd(9, '0')) : 0n;
  return BigInt(ms) * 1_000_000n + frac;
}

/**
 * Line numbers of keys ("ntp.listen", "upstream.servers.2.minpoll") found by
 * a scan of the text; smol-toml parses, this only finds lines for messages.
 */
export function locateKeys(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  let table = '';
  let openArray: { key: string; n: number } | null = null;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    const n = i + 1;
    const header = /^\[\s*([A-Za-z0-9_.-]+)\s*\]$/.exec(line);
    if (header) {
      table = header[1]!;
      if (!lines.has(table)) lines.set(table, n);
      openArray = null;
      return;
    }
    const kv = /^([A-Za-z0-9_-]+)\s*=\s*(.*)$/.exec(line);
    let rest = line;
    if (kv) {
      const key = table ? `${table}.${kv[1]}` : kv[1]!;
      lines.set(key, n);
      rest = kv[2]!;
      openArray = rest.startsWith('[') ? { key, n: 0 } : null;
      if (!openArray) {
        for (const sub of rest.matchAll(/([A-Za-z0-9_-]+)\s*=/g)) lines.set(`${key}.${sub[1]}`, n);
        return;
      }
      rest = rest.slice(1);
    }
    if (openArray) {
      // Elements of an array, one or more per line: "host", { address = ... }.
      for (const el of rest.matchAll(/\{[^}]*\}|"(?:[^"\\]|\\.)*"|'[^']*'|[^,\]\s]+/g)) {
        openArray.n++;
        const k = `${openArray.key}.${openArray.n}`;
        lines.set(k, n);
        for (const sub of el[0].matchAll(/([A-Za-z0-9_-]+)\s*=/g)) lines.set(`${k}.${sub[1]}`, n);
      }
      if (rest.includes(']') && !/\[[^\]]*$/.test(rest)) openArray = null;
    }
  });
  return lines;
}

export type Table = Record<string, unknown>;

export class Reader {
  constructor(
    readonly file: string,
    readonly lines: Map<string, number>,
  ) {}

  lineOf(key: string): number {
    for (let k = key; k; k = k.includes('.') ? k.slice(0, k.lastIndexOf('.')) : '') {
      const n = this.lines.get(k);
      if (n !== undefined) return n;
    }
    return 1;
  }

  fail(key: string, problem: string): never {
    throw new ConfigError(this.file, this.lineOf(key), key, problem);
  }

  /** A table's keys, refusing any the schema does not name. */
  table(v: unknown, key: string, known: string[]): Table {
    if (v === undefined) return {};
    if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof TomlDate) this.fail(key, `expected a table, got ${typeName(v)}`);
    for (const k of Object.keys(v as Table)) {
      if (!known.includes(k)) this.fail(`${key}.${k}`, `unknown key (known in [${key}]: ${known.join(', ')})`);
    }
    return v as Table;
  }

  get<T>(t: Table, table: string, key: string, check: Check<T>, def: T): T {
    const v = t[key];
    if (v === undefined) return def;
    try {
      return check(v);
    } catch (e) {
      const item = /^item (\d+): /.exec((e as Error).message);
      const msg = (e as Error).message;
      return this.fail(item ? `${table}.${key}.${item[1]}` : `${table}.${key}`, item ? msg.slice(item[0].length) : msg);
    }
  }
}
