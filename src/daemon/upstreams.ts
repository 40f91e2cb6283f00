// [upstream] servers as the NTP client's sources. Names are looked up once,
// at start; one that does not resolve is left out and logged, so a board
// whose DNS is not up yet still follows the cluster.
import { lookup } from 'node:dns/promises';
import net from 'node:net';

import type { SourceConfig } from '../sync/source.js';
import { errorCode } from '../util/errors.js';
import type { Config } from './config.js';
import { formatHostPort } from './hostport.js';
import type { Logger } from './log.js';

export async function resolveUpstreams(cfg: Config, log: Logger): Promise<SourceConfig[]> {
  const out: SourceConfig[] = [];
  for (const [i, u] of cfg.upstream.servers.entries()) {
    let address = u.host;
    if (net.isIP(u.host.split('%')[0]!) === 0) {
      try {
        address = (await lookup(u.host)).address;
      } catch (e) {
        log.warn('upstream name does not resolve; left out', { server: u.host, error: errorCode(e) });
        continue;
      }
    }
    out.push({
      id: `upstream${i + 1}:${formatHostPort({ host: u.host, port: u.port })}`,
      address,
      port: u.port,
      minPollLog2: u.minPollLog2,
      maxPollLog2: u.maxPollLog2,
      iburst: u.iburst,
      keyId: u.keyId,
      interleaved: u.interleaved,
      // NTS-KE goes to the name as written: the certificate names the server, not its address.
      nts: u.ntsPort === null ? null : { port: u.ntsPort, serverName: net.isIP(u.host.split('%')[0]!) === 0 ? u.host : null },
    });
  }
  return out;
}
