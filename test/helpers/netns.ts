// Private network namespaces for tests: created here, always deleted (after
// the test, and at process exit for anything a failure left behind). Only
// their own loopback is used.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

const created = new Set<string>();

/** Ends whatever still runs inside our namespaces (only we start processes there) and deletes them. */
function cleanupAll(): void {
  for (const ns of created) {
    try {
      const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
      for (const pid of pids) process.kill(pid, 'SIGKILL');
    } catch {
      // nothing left in it
    }
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
  created.clear();
}
process.on('exit', cleanupAll);
// Ctrl-C or a CI timeout: 'exit' handlers do not run on a signal's default action.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    cleanupAll();
    process.exit(130);
  });
}

/** Whether this process can make namespaces; prints the reason when not (and throws under CI). */
export function canUseNetns(): boolean {
  let why = '';
  if (process.getuid?.() !== 0) why = 'network namespace tests need root';
  else {
    try {
      execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    } catch {
      why = '`ip netns` is not available (iproute2)';
    }
  }
  if (!why) return true;
  if (process.env['CI']) throw new Error(why);
  console.warn(`\n  SKIP: ${why}`);
  return false;
}

export interface Netns {
  name: string;
  exec(cmd: string, args: string[], opts?: { timeoutMs?: number }): string;
  spawn(cmd: string, args: string[]): ChildProcess;
  destroy(): void;
}

export function createNetns(tag: string): Netns {
  const name = `ct-${tag}-${process.pid}-${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', name]);
  created.add(name);
  execFileSync('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
  return {
    name,
    exec: (cmd, args, opts = {}) => execFileSync('ip', ['netns', 'exec', name, cmd, ...args], { encoding: 'utf8', timeout: opts.timeoutMs ?? 15_000 }),
    // `ip netns exec` execs the command, so the child's PID is the command's.
    spawn: (cmd, args) => spawn('ip', ['netns', 'exec', name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }),
    destroy: () => {
      execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
      created.delete(name);
    },
  };
}
