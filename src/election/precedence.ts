// Who should serve: the documented order (docs/election.md, "Precedence").
//   1. a node with a reference (a real upstream, or operator-trusted time)
//      before any node without one;
//   2. a node whose clock carries the cluster's time (it has been
//      synchronised since it booted, or it serves) before one that does not
//      (a board just back at its factory date), so a failover never hands the
//      cluster to a clock that knows only its saved floor;
//   3. lower candidate stratum;
//   4. lower priority number (the seed's rule: 0 is highest);
//   5. the node id (string order), so that no two nodes ever tie.
// Both sides of a meeting compute this from the same advertised fields, so
// they reach the same verdict independently (seed frames 21-24).

export interface Rank {
  id: string;
  priority: number;
  stratum: number;
  hasReference: boolean;
  synced: boolean;
}

/** < 0 when a should serve before b, > 0 when after; 0 only for the same node. */
export function comparePrecedence(a: Rank, b: Rank): number {
  if (a.hasReference !== b.hasReference) return a.hasReference ? -1 : 1;
  if (a.synced !== b.synced) return a.synced ? -1 : 1;
  if (a.stratum !== b.stratum) return a.stratum - b.stratum;
  if (a.priority !== b.priority) return a.priority - b.priority;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function best<T extends Rank>(ranks: Iterable<T>): T | null {
  let top: T | null = null;
  for (const r of ranks) if (top === null || comparePrecedence(r, top) < 0) top = r;
  return top;
}
