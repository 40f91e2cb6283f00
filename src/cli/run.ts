import { loadConfig } from '../daemon/config.js';
import { Daemon } from '../daemon/daemon.js';
import { formatHostPort } from '../daemon/hostport.js';
import { createLogger } from '../daemon/log.js';
import { Role } from '../election/wire.js';
import { ClocktowerError, ConfigError } from '../util/errors.js';
import { parse } from './args.js';
import { configFrom } from './config-file.js';
import type { Command } from './main.js';

const usage = `usage: clocktower run [--config FILE] [--log-time]

Runs a clocktower node in the foreground: the election on the cluster port,
NTP served on every [ntp] listen address, the node's clock kept on the elected
server's (or the upstreams'), state saved in [state] dir, status on the
control socket. SIGTERM/SIGINT save state, tell the peers and exit 0; SIGHUP
reloads the NTP access rules, rate limit, keys and log level.

With no --config it runs the embedded default: one node on loopback (NTP on
127.0.0.1:11123, cluster on 127.0.0.1:12300), a virtual clock (the machine's
clock is never touched), state in a per-user directory. Serving a LAN or
setting the system clock takes a config file (docs/config.md).

options:
  --config FILE  the TOML config (docs/config.md)
  --log-time     prefix log lines with the time (journald adds its own)

Exit status: 0 after a clean stop, 1 when the node cannot start, 2 on a bad
config or usage.`;

export const command: Command = {
  summary: 'run a node (the daemon) in the foreground',
  usage,
  async run(args) {
    const p = parse(args, { config: { type: 'string' }, 'log-time': { type: 'boolean' } });
    const cfg = configFrom(p.str('config'));
    if (!cfg) return 2;
    const log = createLogger(cfg.log.level, undefined, { time: p.values['log-time'] === true });
    let hinted = false;
    let daemon: Daemon;
    try {
      daemon = await Daemon.start(cfg, {
        log,
        onEvent: (e) => {
          if (cfg.file === null && !hinted && e.kind === 'role' && e.to === Role.Server) {
            hinted = true;
            const ntp = formatHostPort(cfg.ntp.listen[0]!);
            log.info(`this node is the NTP server on ${ntp}; try: clocktower status   or   clocktower query ${ntp}`);
          }
        },
      });
    } catch (e) {
      if (e instanceof ConfigError) {
        console.error(`clocktower: ${e.message}`);
        return 2;
      }
      if (e instanceof ClocktowerError || (e as { code?: string }).code) {
        console.error(`clocktower: ${(e as Error).message}`);
        return 1;
      }
      throw e;
    }
    return new Promise<number>((resolve) => {
      const stop = (sig: string) => {
        log.info('stopping', { signal: sig });
        process.off('SIGTERM', onTerm).off('SIGINT', onInt).off('SIGHUP', onHup);
        daemon.stop().then(
          () => resolve(0),
          (e: Error) => {
            log.error('stop failed', { error: e.message });
            resolve(1);
          },
        );
      };
      const onTerm = () => stop('SIGTERM');
      const onInt = () => stop('SIGINT');
      const onHup = () => {
        if (cfg.file === null) return log.info('SIGHUP: nothing to reload (embedded default)');
        try {
          daemon.reload(loadConfig(cfg.file));
        } catch (e) {
          log.error('reload failed; keeping the running config', { error: (e as Error).message });
        }
      };
      process.on('SIGTERM', onTerm).on('SIGINT', onInt).on('SIGHUP', onHup);
    });
  },
};
