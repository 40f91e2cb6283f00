// The simulator's scheduler: a binary heap of events ordered by time, then
// by insertion, so equal-time events run in a fixed order (replayable).

export interface Timed {
  t: number;
  seq: number;
}

/** Omit over each member of a union, so a tagged union keeps its tags. */
export type Unsequenced<E> = E extends unknown ? Omit<E, 'seq'> : never;

export class EventQueue<E extends Timed> {
  readonly #heap: E[] = [];
  #seq = 0;

  get size(): number {
    return this.#heap.length;
  }

  push(e: Unsequenced<E>): void {
    const h = this.#heap;
    h.push({ ...e, seq: this.#seq++ } as E);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  peek(): E | undefined {
    return this.#heap[0];
  }

  pop(): E | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1,
          r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Timed, b: Timed): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}
