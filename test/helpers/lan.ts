// A private LAN for tests: N host namespaces, each with one veth (`eth0`,
// 198.18.0.i/24, the benchmarking range, used only inside these namespaces)
// to a bridge in a hub namespace. Links can be cut and healed at run time.
// Everything is deleted after the test, and at process exit for anything a
// failure left behind (netns.ts).
import { execFileSync } from 'node:child_process';

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
