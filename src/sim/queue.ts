// The simulator's scheduler: a binary heap of events ordered by time, then
// by insertion, so equal-time events run in a fixed order (replayable).
import { Heap } from '../util/heap.js';

export interface Timed {
  t: number;
  seq: number;
}

/** Omit over each member of a union, so a tagged union keeps its tags. */
export type Unsequenced<E> = E extends unknown ? Omit<E, 'seq'> : never;

export class EventQueue<E extends Timed> {
  readonly #heap = new Heap<E>(before);
  #seq = 0;

  get size(): number {
    return this.#heap.size;
  }

  push(e: Unsequenced<E>): void {
    this.#heap.push({ ...e, seq: this.#seq++ } as E);
  }

  peek(): E | undefined {
    return this.#heap.peek();
  }

  pop(): E | undefined {
    return this.#heap.pop();
  }
}

function before(a: Timed, b: Timed): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}
