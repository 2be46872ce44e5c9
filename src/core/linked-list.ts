/** What a {@link LinkedList} needs of an entry: its neighbours, and whether it is in the list. */
export interface Linked<T> {
  prev: T | undefined;
  next: T | undefined;
  /** In the list: pushed and not removed since. */
  linked: boolean;
}

/**
 * A doubly linked list through its entries' own fields: push at the tail and remove from
 * anywhere in O(1), with no allocation and no hashing. For queues on a hot path whose
 * entries mostly leave in the order they came (commands in flight, calls under a limit).
 */
export class LinkedList<T extends Linked<T>> {
  head: T | undefined = undefined;
  tail: T | undefined = undefined;
  size = 0;

  /** Appends `entry` (not in a list). */
  push(entry: T): void {
    entry.prev = this.tail;
    entry.next = undefined;
    entry.linked = true;
    if (this.tail === undefined) this.head = entry;
    else this.tail.next = entry;
    this.tail = entry;
    this.size++;
  }

  /** Takes `entry` out; false when it was not in the list. */
  remove(entry: T): boolean {
    if (!entry.linked) return false;
    entry.linked = false;
    const { prev, next } = entry;
    if (prev === undefined) this.head = next;
    else prev.next = next;
    if (next === undefined) this.tail = prev;
    else next.prev = prev;
    entry.prev = entry.next = undefined;
    this.size--;
    return true;
  }
}
