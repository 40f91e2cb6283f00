import { describeConfig } from '../daemon/config.js';
import { UsageError } from './args.js';
import type { Command } from './main.js';
import { configFrom } from './config-file.js';

const usage = `usage: clocktower check-config FILE...

Checks config files without running anything: TOML syntax, every key known,
every value of the right type and range. Prints a summary of each good file;
a bad one prints FILE:LINE: KEY: PROBLEM.

Exit status: 0 when every file is good, 2 otherwise.`;

export const command: Command = {
  summary: 'check config files without running',
  usage,
  async run(args) {
    if (args.length === 0) throw new UsageError('name at least one config file');
    let ok = true;
    for (const f of args) {
      const cfg = configFrom(f);
      if (!cfg) {
        ok = false;
        continue;
      }
      console.log(`${f}: ok\n${describeConfig(cfg).replace(/^/gm, '  ')}`);
    }
    return ok ? 0 : 2;
  },
};
