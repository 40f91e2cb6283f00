// Real peers the tests talk to (chrony, ntpdig...). CI installs them
// (.ci/run); on a developer machine without them the tests that need them say
// so loudly and skip, but under CI a missing tool is a failure.
import { execFileSync } from 'node:child_process';
import { test as uvuTest } from 'uvu';

export function have(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** True when `tool` is there; otherwise prints why the caller skips, or throws under CI. */
export function need(tool: string, why: string): boolean {
  if (have(tool)) return true;
  const msg = `${tool} is not installed: ${why} (.ci/run installs it)`;
  if (process.env['CI']) throw new Error(msg);
  console.warn(`\n  SKIP: ${msg}`);
  return false;
}

type Body = Parameters<typeof uvuTest>[1];
const registry = globalThis as { CT_SKIPPED_TESTS?: string[] };
/** Tests registered as skipped in this run, with why (test/run.ts prints them). */
export const skippedTests: string[] = (registry.CT_SKIPPED_TESTS ??= []);

/**
 * `test` when the test can run here; otherwise it is registered as skipped,
 * so the run counts it as skipped (never as passed) and names it with `why`.
 */
export function testIf(ok: boolean, why: string, suite: typeof uvuTest = uvuTest): (name: string, fn: Body) => void {
  if (ok) return (name, fn) => suite(name, fn);
  return (name, fn) => {
    skippedTests.push(`${name} (${why})`);
    suite.skip(name, fn);
  };
}
