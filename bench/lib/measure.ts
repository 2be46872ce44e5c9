/**
 * Batch timing for sub-microsecond operations: each candidate runs `batch` awaited calls
 * per sample, timed as one span, so the timer's own cost is spread thin. Candidates are
 * interleaved round by round, in an order rotated every round (so drift, GC and position hit
 * them alike), and the median sample wins.
 */

/** One thing to time: an async (or sync) call. */
export interface Candidate {
  readonly name: string;
  readonly fn: () => unknown;
  /**
   * Calls per sample for this candidate, when the shared batch would take too long (a
   * library that waits on a timer per call, such as bottleneck, runs ~200 calls a second).
   */
  readonly batch?: number;
}

/** Median nanoseconds per call, by candidate name. */
export type Timings = Map<string, number>;

/**
 * Times every candidate; `rounds` samples of `batch` calls each, after a warm-up. With
 * `gc` (and `--expose-gc`), a full collection and a few untimed calls precede every sample,
 * so that the garbage one candidate leaves is not collected during the next one's sample.
 */
export async function measure(
  candidates: readonly Candidate[],
  options: { batch?: number; rounds?: number; gc?: boolean } = {},
): Promise<Timings> {
  const samples = await sample(candidates, options);
  return new Map([...samples].map(([name, s]) => [name, median(s)]));
}

/** Like {@link measure}, but answers every round's ns per call, by candidate name, in round order. */
export async function sample(
  candidates: readonly Candidate[],
  options: { batch?: number; rounds?: number; gc?: boolean } = {},
): Promise<Map<string, number[]>> {
  const batch = options.batch ?? 20_000;
  const rounds = options.rounds ?? 15;
  const gc = options.gc === true ? (globalThis as { gc?: () => void }).gc : undefined;
  const samples = new Map<string, number[]>(candidates.map((c) => [c.name, []]));
  for (const c of candidates) await runBatch(c.fn, c.batch ?? batch); // warm-up: let the JIT settle
  for (let round = 0; round < rounds; round++) {
    // Rotate the order each round, so that no candidate always runs right after the same one.
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[(round + i) % candidates.length] as Candidate;
      const n = c.batch ?? batch;
      if (gc !== undefined) {
        gc();
        await runBatch(c.fn, Math.min(1_000, n)); // re-warm what the collection may have flushed
      }
      const start = process.hrtime.bigint();
      await runBatch(c.fn, n);
      samples.get(c.name)?.push(Number(process.hrtime.bigint() - start) / n);
    }
  }
  return samples;
}

/** Runs `rounds` rounds of two sides, alternating which goes first (0-1, 1-0, ...), so that drift hits both alike. */
export async function alternate(rounds: number, run: (side: 0 | 1) => Promise<void>): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (const side of round % 2 === 0 ? ([0, 1] as const) : ([1, 0] as const)) await run(side);
  }
}

/** Runs `n` awaited calls of `fn`, one after another. */
export async function runBatch(fn: () => unknown, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await fn();
}

/** The middle value (the upper one of an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** Prints a table of ns/call and overhead over `baseline`, and returns it as Markdown. */
export function report(title: string, timings: Timings, baseline: string): string {
  const base = timings.get(baseline) ?? 0;
  const rows = [...timings].map(([name, ns]) => {
    const overhead = ns - base;
    return `| ${name} | ${ns.toFixed(0)} | ${name === baseline ? "—" : overhead.toFixed(0)} |`;
  });
  const md = [`### ${title}`, "", "| candidate | ns / call | overhead ns |", "| --- | ---: | ---: |", ...rows].join("\n");
  console.log(`\n${md}\n`);
  return md;
}

/** The installed version of a package, for the results' header. */
export async function versionOf(pkg: string): Promise<string> {
  const { createRequire } = await import("node:module");
  const require = createRequire(import.meta.url);
  return (require(`${pkg}/package.json`) as { version: string }).version;
}
