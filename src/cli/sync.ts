import { webcrypto } from 'node:crypto';

import { hasCapSysTime } from '../clock/kernel.js';
import { query } from '../tools/query.js';
import { enableSystemClockWrites, MAX_SLEW_OFFSET_NS, slewOffsetNs, stepNs } from '../native/clock.js';
import { readKeyFile } from '../daemon/keyfile.js';
import { cryptoRng } from '../util/rng.js';
import { intOption, parse, secondsOption, UsageError } from './args.js';
import type { Command } from './main.js';

const usage = `usage: clocktower sync HOST[:PORT]... [options]

Sets the system clock once from NTP servers, like ntpdate or msntp -a/-r:
asks each server (4 requests, the lowest-delay answer counts), takes the
median offset of the servers that answered validly, then slews the clock
when the offset is under the step threshold and steps it otherwise.

Changing the clock needs CAP_SYS_TIME (root, or the capability): without it
the command says so and changes nothing. --dry-run needs no privilege.

options:
  --step            always step (msntp -r, ntpdate -b)
  --slew            always slew (msntp -a, ntpdate -B); refused above 0.5 s
  --step-threshold S  offsets at or above this are stepped (default 0.5, as ntpdate)
  --dry-run         print what would be done, change nothing
  --count N         requests per server (default 4)
  --timeout S       seconds to wait for each answer (default 1)
  --key ID --keyfile FILE  authenticate (chrony's key-file format)
  --json            print the decision as JSON

Exit status: 0 when the clock was set (or would be, with --dry-run), 1 when
no server answered or the clock could not be changed, 2 on bad usage.`;

export const command: Command = {
  summary: 'set the system clock once from NTP servers (ntpdate, msntp -a/-r)',
  usage,
  async run(args) {
    const { values, positionals, str } = parse(args, {
      step: { type: 'boolean' },
      slew: { type: 'boolean' },
      'step-threshold': { type: 'string' },
      'dry-run': { type: 'boolean' },
      count: { type: 'string' },
      timeout: { type: 'string' },
      key: { type: 'string' },
      keyfile: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (positionals.length === 0) throw new UsageError('name at least one server');
    if (values.step && values.slew) throw new UsageError('--step and --slew exclude each other');
    const dry = values['dry-run'] === true;
    // Say so before asking anyone: a sync that cannot set the clock is a mistake to report at once.
    if (!dry && !hasCapSysTime()) {
      console.error(
        'clocktower sync: setting the clock needs CAP_SYS_TIME (run as root or grant the capability); nothing was changed. --dry-run shows what would be done.',
      );
      return 1;
    }
    const thresholdNs = secondsOption('step-threshold', str('step-threshold'), 500) * 1e6;
    const keyId = values.key === undefined ? undefined : intOption('key', str('key'), 0, 1, 0xffff_ffff);
    if (keyId !== undefined && !str('keyfile')) throw new UsageError('--key needs --keyfile');
    const keyfile = str('keyfile');
    const results = await query(positionals, {
      count: intOption('count', str('count'), 4, 1, 100),
      timeoutMs: secondsOption('timeout', str('timeout'), 1000),
      ...(keyId !== undefined ? { keyId } : {}),
      ...(keyfile ? { keys: readKeyFile(keyfile) } : {}),
      rng: cryptoRng((b) => webcrypto.getRandomValues(b)),
    });
    for (const r of results) if (!r.ok) console.error(`clocktower sync: ${r.server}: ${r.error}`);
    const offsets = results
      .filter((r) => r.best)
      .map((r) => r.best!.offsetNs)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (offsets.length === 0) {
      console.error('clocktower sync: no server answered validly; the clock was not changed');
      return 1;
    }
    // Median of the servers (the lower middle of an even count): one falseticker cannot move it far.
    const offsetNs = offsets[(offsets.length - 1) >> 1]!;
    const abs = offsetNs < 0n ? -offsetNs : offsetNs;
    const action = values.step ? 'step' : values.slew ? 'slew' : abs >= BigInt(thresholdNs) ? 'step' : 'slew';
    if (action === 'slew' && abs > BigInt(MAX_SLEW_OFFSET_NS)) {
      console.error(`clocktower sync: offset ${(Number(offsetNs) / 1e9).toFixed(6)} s is too large to slew (0.5 s at most); use --step`);
      return 1;
    }
    const line = `${dry ? 'would ' : ''}${action} the clock by ${(Number(offsetNs) / 1e9).toFixed(6)} s (median of ${offsets.length} server${offsets.length > 1 ? 's' : ''})`;
    if (!dry) {
      try {
        enableSystemClockWrites();
        if (action === 'step') stepNs(offsetNs);
        else slewOffsetNs(Number(offsetNs));
      } catch (e) {
        console.error(`clocktower sync: cannot ${action} the clock: ${(e as Error).message}`);
        return 1;
      }
    }
    if (values.json) console.log(JSON.stringify({ action, dry_run: dry, offset_ns: offsetNs.toString(), servers: offsets.length }));
    else console.log(line);
    return 0;
  },
};
