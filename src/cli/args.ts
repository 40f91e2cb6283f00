// Small helpers over node:util parseArgs for the subcommands.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {}

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  /** A string option's value, or undefined. */
  str(name: string): string | undefined;
}

export function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>): Parsed {
  try {
    const r = parseArgs({ args, options, allowPositionals: true, strict: true });
    const values = r.values as Parsed['values'];
    return { values, positionals: r.positionals, str: (k) => (typeof values[k] === 'string' ? values[k] : undefined) };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function intOption(name: string, v: string | undefined, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer ${min}..${max}`);
  return n;
}

export function secondsOption(name: string, v: string | undefined, defMs: number): number {
  if (v === undefined) return defMs;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 3600) throw new UsageError(`--${name} must be seconds in (0, 3600]`);
  return Math.round(n * 1000);
}
