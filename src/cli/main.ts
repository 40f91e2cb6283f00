// The command line: one module per subcommand, each built on the library.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { packageRoot } from '../util/package-root.js';
import { UsageError } from './args.js';

export interface Command {
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}

const commands: Record<string, () => Promise<Command>> = {
  run: async () => (await import('./run.js')).command,
  status: async () => (await import('./status.js')).command,
  'check-config': async () => (await import('./check-config.js')).command,
  query: async () => (await import('./query.js')).command,
  sync: async () => (await import('./sync.js')).command,
  'wait-sync': async () => (await import('./wait-sync.js')).command,
  demo: async () => (await import('./demo.js')).command,
  bench: async () => (await import('./bench.js')).command,
  simulate: async () => (await import('./simulate.js')).command,
};

function version(): string {
  const pkg = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

async function help(): Promise<string> {
  const lines = [
    `clocktower ${version()} — a time server for LANs whose boards have no real-time clock`,
    '',
    'usage: clocktower <command> [options]',
    '',
    'commands:',
  ];
  for (const [name, load] of Object.entries(commands)) {
    const c = await load();
    lines.push(`  ${name.padEnd(14)}${c.summary}`);
  }
  lines.push(`  ${'help'.padEnd(14)}this text`, `  ${'version'.padEnd(14)}print the version`);
  return lines.join('\n');
}

/** Runs the CLI; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    console.log(await help());
    return 0;
  }
  if (name === 'version' || name === '--version') {
    console.log(version());
    return 0;
  }
  const load = commands[name];
  if (!load) {
    console.error(`clocktower: unknown command ${JSON.stringify(name)}\n`);
    console.error(await help());
    return 2;
  }
  const cmd = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.usage);
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`clocktower ${name}: ${e.message}\n\n${cmd.usage}`);
    return 2;
  }
}
