// A binary min-heap under a caller's order: the simulator's event queue and
// the election's peer deaths share it. Sifts move a hole instead of swapping,
// so a push or pop allocates nothing.

export class Heap<T> {
  readonly #h: T[] = [];

  constructor(readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.#h.length;
  }

  peek(): T | undefined {
    return this.#h[0];
  }

  push(x: T): void {
    const h = this.#h;
    let i = h.length;
    h.push(x);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(x, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = x;
  }

  pop(): T | undefined {
    const h = this.#h;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const m = r < h.length && this.less(h[r]!, h[l]!) ? r : l;
      if (!this.less(h[m]!, last)) break;
      h[i] = h[m]!;
      i = m;
    }
    h[i] = last;
    return top;
  }
}
