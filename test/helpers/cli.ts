// Runs the clocktower CLI from this tree as a separate process.
import { spawn } from 'node:child_process';

import { nodeArgv, treeRoot } from './node.js';

export const root = treeRoot;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const [cmd, ...argv] = nodeArgv('src/cli/bin.ts', args);
    const child = spawn(cmd!, argv, { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
