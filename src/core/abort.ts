/** The reason an aborted signal carries, always an Error-like value to reject with. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("This operation was aborted", "AbortError");
}

/** Throws the signal's reason when it has already aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}

/** True for the errors an abort produces (the default DOMException, or any `AbortError`). */
export function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || (error.name === "TimeoutError" && error instanceof DOMException));
}

/**
 * Calls `listener` once when `signal` aborts; returns a function that detaches it.
 * A no-op, allocation-free when there is no signal.
 */
export function onAbort(signal: AbortSignal | undefined, listener: () => void): () => void {
  if (!signal) return noop;
  signal.addEventListener("abort", listener, { once: true });
  return () => signal.removeEventListener("abort", listener);
}

/**
 * A signal that aborts when either input does. Returns the one input unchanged when the
 * other is missing, so the common case allocates nothing.
 */
export function anySignal(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  if (!a) return b;
  if (!b) return a;
  return AbortSignal.any([a, b]);
}

function noop(): void {}
