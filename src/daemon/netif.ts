// Which local interfaces multicast uses: a specific listen address names its
// own; a wildcard listen means every interface with an IPv4 address that is
// not loopback (a board's eth0 and wlan0, say).
import os from 'node:os';

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
