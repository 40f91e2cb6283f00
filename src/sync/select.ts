// Source selection (RFC 5905 §11.2): the intersection algorithm finds the
// largest group of sources whose correctness intervals overlap (the
// truechimers; the rest are falsetickers), clustering prunes the outliers,
// and combining averages the survivors weighted by 1 / root distance.

/** RFC 5905 §7.2 NMIN: clustering stops at this many survivors. */
export const MIN_SURVIVORS = 3;
const MAX_DISTANCE_NS = 1.5e9;

export interface Candidate {
  id: string;
  /** Offset relative to the local clock. */
  offsetNs: number;
  /** λ: root synchronisation distance (RFC 5905 §11.2.1). */
  rootDistanceNs: number;
  jitterNs: number;
  stratum: number;
}

export interface Selection {
  /** Ids of truechimers that survived clustering, best first. */
  survivors: string[];
  falsetickers: string[];
  /** The system peer: the first survivor. */
  systemPeer: string;
  /** Combined offset (RFC 5905 §11.2.3). */
  offsetNs: number;
  /** ψ_s: selection jitter of the combined offset. */
  jitterNs: number;
}

/**
 * Intersection (RFC 5905 §11.2.1, Marzullo's algorithm as amended by Mills):
 * returns the [low, high] interval that at least n - allow correctness
 * intervals share with no more than `allow` midpoints outside, or null.
 */
export function intersect(cands: readonly Candidate[]): { low: number; high: number } | null {
  const n = cands.length;
  const edges: Array<{ at: number; type: -1 | 0 | 1 }> = [];
  for (const c of cands) {
    edges.push({ at: c.offsetNs - c.rootDistanceNs, type: -1 });
    edges.push({ at: c.offsetNs, type: 0 });
    edges.push({ at: c.offsetNs + c.rootDistanceNs, type: 1 });
  }
  edges.sort((a, b) => a.at - b.at || a.type - b.type);
  for (let allow = 0; 2 * allow < n; allow++) {
    let found = 0;
    let chime = 0;
    let low = Infinity;
    let high = -Infinity;
    for (const e of edges) {
      chime -= e.type;
      if (chime >= n - allow) {
        low = e.at;
        break;
      }
      if (e.type === 0) found++;
    }
    chime = 0;
    for (let i = edges.length - 1; i >= 0; i--) {
      chime += edges[i]!.type;
      if (chime >= n - allow) {
        high = edges[i]!.at;
        break;
      }
      if (edges[i]!.type === 0) found++;
    }
    if (found > allow) continue;
    if (high > low) return { low, high };
  }
  return null;
}

function selectionJitter(c: Candidate, all: readonly Candidate[]): number {
  if (all.length < 2) return 0;
  let sq = 0;
  for (const o of all) sq += (c.offsetNs - o.offsetNs) ** 2;
  return Math.sqrt(sq / (all.length - 1));
}

/** Runs intersection, clustering and combining; null when no majority agrees. */
export function selectSources(cands: readonly Candidate[]): Selection | null {
  const fit = cands.filter((c) => c.rootDistanceNs < MAX_DISTANCE_NS && c.stratum < 16);
  if (fit.length === 0) return null;
  const iv = intersect(fit);
  if (!iv) return null;
  const truechimers = fit.filter((c) => c.offsetNs + c.rootDistanceNs >= iv.low && c.offsetNs - c.rootDistanceNs <= iv.high);
  const falsetickers = cands.filter((c) => !truechimers.includes(c)).map((c) => c.id);
  // RFC 5905 §11.2.2: sort by merit (stratum, then root distance).
  let survivors = [...truechimers].sort((a, b) => a.stratum * MAX_DISTANCE_NS + a.rootDistanceNs - (b.stratum * MAX_DISTANCE_NS + b.rootDistanceNs));
  while (survivors.length > MIN_SURVIVORS) {
    let worst = 0;
    let worstJitter = -1;
    survivors.forEach((c, i) => {
      const j = selectionJitter(c, survivors);
      if (j > worstJitter) {
        worstJitter = j;
        worst = i;
      }
    });
    const minPeerJitter = Math.min(...survivors.map((c) => c.jitterNs));
    if (worstJitter <= minPeerJitter) break;
    survivors = survivors.filter((_, i) => i !== worst);
  }
  let wsum = 0;
  let osum = 0;
  for (const c of survivors) {
    const w = 1 / Math.max(c.rootDistanceNs, 1);
    wsum += w;
    osum += w * c.offsetNs;
  }
  const offsetNs = osum / wsum;
  const sys = survivors[0]!;
  let jsq = 0;
  for (const c of survivors) jsq += (c.offsetNs - sys.offsetNs) ** 2 / Math.max(c.rootDistanceNs, 1);
  return {
    survivors: survivors.map((c) => c.id),
    falsetickers,
    systemPeer: sys.id,
    offsetNs,
    jitterNs: Math.sqrt(jsq / wsum || 0),
  };
}
