// Real peers the tests talk to (chrony, ntpdig...). CI installs them
// (.ci/run); on a developer machine without them the tests that need them say
// so loudly and skip, but under CI a missing tool is a failure.
import { execFileSync } from 'node:child_process';

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
