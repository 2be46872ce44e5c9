import type { BoundState, Decision, MirroredState, Store } from "./store.js";

/**
 * State this process alone holds, as a {@link MirroredState}: read and applied at once,
 * nothing to flush and nothing learnt later. Subclasses say where the state is.
 */
export abstract class HeldState<S, I, O> implements MirroredState<S, I, O> {
  readonly exclusive = true;
  readonly offset = 0;
  readonly processId = null;

  abstract read(): S;

  abstract apply(input: I, now: number): O;

  send(input: I, now: number): O {
    return this.apply(input, now);
  }

  fleet(): S {
    return this.read();
  }

  own(): undefined {
    return undefined;
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  attach(): () => void {
    return detached;
  }
}

/** A synchronous store's bound state (see `Store.bind`) as a {@link MirroredState}. */
class BoundHeldState<S, I, O> extends HeldState<S, I, O> {
  constructor(private readonly bound: BoundState<S, I, O>) {
    super();
  }

  read(): S {
    return this.bound.read(0) as S;
  }

  apply(input: I, now: number): O {
    return this.bound.apply(input, now) as O;
  }
}

/**
 * The {@link MirroredState} `store` offers for `decision` at `key`: its own (`Store.mirror`),
 * or a synchronous store's bound state held in process; undefined for an asynchronous store
 * that offers none (its answers would have to be awaited on every call).
 */
export function mirrorOf<S, I, O>(store: Store, decision: Decision<S, I, O>, key: string): MirroredState<S, I, O> | undefined {
  if (typeof store.mirror === "function") return store.mirror(decision, key);
  return store.synchronous ? new BoundHeldState(store.bind(decision, key)) : undefined;
}

function detached(): void {}
