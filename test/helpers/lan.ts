// A private LAN for tests: N host namespaces, each with one veth (`eth0`,
// 198.18.0.i/24, the benchmarking range, used only inside these namespaces)
// to a bridge in a hub namespace. Links can be cut and healed at run time.
// Everything is deleted after the test, and at process exit for anything a
// failure left behind (netns.ts).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { createNetns, type Netns } from './netns.js';

export const LAN_PREFIX = '198.18.0';

export interface LanHost extends Netns {
  /** 1-based. */
  index: number;
  address: string;
}

export interface Lan {
  hub: Netns;
  hosts: LanHost[];
  /** Takes host i's link down at the bridge: it hears nothing and reaches no one. */
  cut(i: number): void;
  heal(i: number): void;
  destroy(): void;
}

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * This kernel keeps one ARP table for all namespaces, with one limit
 * (net.ipv4.neigh.default.gc_thresh3, 1,024 here): 64 hosts that all talk
 * to each other need 4,032 entries, and past the limit a new neighbour
 * cannot be resolved until old entries are collected ("neighbor table
 * overflow!" in the kernel log; a 64-daemon failover took 9–17 s that way,
 * the new server and a board sending to each other unheard for 12 s). A real
 * LAN has one table per host. Past the soft limit (gc_thresh2), each host
 * gets every other as a permanent entry, which the kernel does not count
 * against the limit.
 */
function staticNeighbours(hosts: LanHost[]): void {
  let soft = 512;
  try {
    soft = Number(readFileSync('/proc/sys/net/ipv4/neigh/default/gc_thresh2', 'utf8'));
  } catch {
    // keep the kernel's default
  }
  if (hosts.length * (hosts.length - 1) <= soft) return;
  const macs = hosts.map((h) => (JSON.parse(execFileSync('ip', ['-j', '-n', h.name, 'link', 'show', 'eth0']).toString()) as { address: string }[])[0]!.address);
  for (const h of hosts) {
    const lines = hosts.flatMap((o, j) => (o === h ? [] : [`neigh replace ${o.address} lladdr ${macs[j]} dev eth0 nud permanent`]));
    execFileSync('ip', ['-n', h.name, '-batch', '-'], { input: lines.join('\n') + '\n', stdio: ['pipe', 'ignore', 'pipe'] });
  }
}

export function createLan(tag: string, n: number): Lan {
  const hub = createNetns(`${tag}-hub`);
  const hosts: LanHost[] = [];
  try {
    // No IGMP snooping: every member hears the groups without a querier.
    ip(['-n', hub.name, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0']);
    ip(['-n', hub.name, 'link', 'set', 'br0', 'up']);
    for (let i = 1; i <= n; i++) {
      const ns = createNetns(`${tag}-${i}`);
      const host: LanHost = { ...ns, index: i, address: `${LAN_PREFIX}.${i}` };
      hosts.push(host);
      ip(['-n', hub.name, 'link', 'add', `v${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.name]);
      ip(['-n', hub.name, 'link', 'set', `v${i}`, 'master', 'br0']);
      ip(['-n', hub.name, 'link', 'set', `v${i}`, 'up']);
      ip(['-n', ns.name, 'addr', 'add', `${host.address}/24`, 'brd', `${LAN_PREFIX}.255`, 'dev', 'eth0']);
      ip(['-n', ns.name, 'link', 'set', 'eth0', 'up']);
    }
    staticNeighbours(hosts);
  } catch (e) {
    for (const h of hosts) h.destroy();
    hub.destroy();
    throw e;
  }
  return {
    hub,
    hosts,
    cut: (i) => ip(['-n', hub.name, 'link', 'set', `v${i}`, 'down']),
    heal: (i) => ip(['-n', hub.name, 'link', 'set', `v${i}`, 'up']),
    destroy: () => {
      for (const h of hosts) h.destroy();
      hub.destroy();
    },
  };
}
