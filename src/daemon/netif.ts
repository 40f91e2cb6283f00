// Which local interfaces multicast uses: a specific listen address names its
// own; a wildcard listen means every interface with an IPv4 address that is
// not loopback (a board's eth0 and wlan0, say). And the cluster's group join.
import os from 'node:os';

import { UdpEndpoint, type RecordBatch } from '../native/udp.js';
import { errorCode } from '../util/errors.js';
import { formatHostPort, type HostPort } from './hostport.js';
import type { Logger } from './log.js';

export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

/** IPv4 interface addresses to join a group on and send it from. */
export function multicastInterfaces(listenHost: string): string[] {
  if (!isWildcard(listenHost)) return [listenHost];
  const out: string[] = [];
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) out.push(a.address);
  }
  return out;
}

/**
 * Discovery by multicast: joins `group` on the cluster's interfaces and sends
 * announcements out of the first. A socket bound to one address does not
 * receive group traffic, so then a second socket bound to the group
 * (SO_REUSEPORT: several nodes may share a host) does the receiving; it is
 * returned for the caller to close.
 */
export function joinClusterGroup(ep: UdpEndpoint, listenHost: string, group: HostPort, onBatch: (b: RecordBatch) => void, log: Logger): UdpEndpoint | null {
  const ifaces = multicastInterfaces(listenHost);
  if (ifaces.length === 0) {
    log.warn('cluster.multicast: no IPv4 interface to use; discovery relies on the listed peers');
    return null;
  }
  const own = isWildcard(listenHost) ? null : new UdpEndpoint({ address: group.host, port: group.port, reusePort: true }, { onBatch });
  for (const address of ifaces) {
    try {
      (own ?? ep).joinGroup(group.host, { address });
    } catch (e) {
      log.warn('cannot join the cluster group', { group: group.host, interface: address, error: errorCode(e) });
    }
  }
  ep.setMulticastSend({ family: 4, address: ifaces[0]!, hops: 1, loop: true });
  log.info('cluster multicast', { group: formatHostPort(group), interfaces: ifaces.join(',') });
  return own;
}
