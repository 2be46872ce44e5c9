/** One entry of a {@link WaitQueue}. */
export interface Waiter {
  /** Called when the waiter reaches the front and is taken. */
  readonly admit: () => void;
  /** @internal links, managed by the queue. */
  prev: Waiter | undefined;
  /** @internal links, managed by the queue. */
  next: Waiter | undefined;
}

/**
 * A FIFO of waiters with O(1) push, shift and removal from the middle (a waiter whose
 * caller aborted leaves at once, wherever it stands).
 */
export class WaitQueue {
  private head: Waiter | undefined;
  private tail: Waiter | undefined;
  private count = 0;

  /** How many are waiting. */
  get length(): number {
    return this.count;
  }

  /** Adds a waiter at the back; returns it, for {@link remove}. */
  push(admit: () => void): Waiter {
    const waiter: Waiter = { admit, prev: this.tail, next: undefined };
    if (this.tail === undefined) this.head = waiter;
    else this.tail.next = waiter;
    this.tail = waiter;
    this.count++;
    return waiter;
  }

  /** Takes the waiter at the front, or undefined when empty. */
  shift(): Waiter | undefined {
    const waiter = this.head;
    if (waiter !== undefined) this.remove(waiter);
    return waiter;
  }

  /** Removes `waiter` from wherever it stands. */
  remove(waiter: Waiter): void {
    if (waiter.prev === undefined) {
      if (this.head !== waiter) return;
      this.head = waiter.next;
    } else waiter.prev.next = waiter.next;
    if (waiter.next === undefined) this.tail = waiter.prev;
    else waiter.next.prev = waiter.prev;
    waiter.prev = waiter.next = undefined;
    this.count--;
  }
}
