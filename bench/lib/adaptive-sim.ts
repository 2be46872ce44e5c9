/**
 * The adaptive bench on virtual time: Breakwater's `ApiClient` (its real code, with an
 * injected clock and `fetch`) against the bench's upstream models, with network delays,
 * service times and late timers drawn from a random source fixed by the run number. A 30 s run takes well
 * under a second, so the control law can be checked on every model, header mode and many
 * runs; the real-time bench (bench/adaptive.bench.ts, real HTTP) confirms it.
 */
import { setMaxListeners } from "node:events";
import { randomFrom } from "../../examples/lib/random.js";
import { createLimitModel, type LimitModel, writeRateLimitHeaders } from "../../examples/lib/limit-models.js";
import type { HeaderMode } from "../../examples/lib/upstream.js";
import type { CallRecord } from "../../examples/lib/workload.js";
import { type Clock, MAX_TIMER_MS } from "../../src/core/clock.js";
import { ApiClient, type ApiClientOptions } from "../../src/http/index.js";
import { MemoryStore } from "../../src/store/memory.js";
import { countAt, measureRun, type AdaptiveMeasures, type Timeline } from "./adaptive-goals.js";
import { durationOf, limitAt, type Scenario } from "./adaptive-scenarios.js";

interface Entry {
  readonly dueAt: number;
  readonly seq: number;
  readonly fire: () => void;
  cancelled: boolean;
}

/**
 * How timers fire: `late`, after exactly the time asked plus a lateness; `node`, as Node's
 * do: the delay truncated to whole milliseconds (at least 1; `setTimeout(fn, 12.7)` waits
 * 12), then the lateness. A limiter that asks for 12.7 ms wakes early unless it rounds up.
 */
export type SimTimers = "late" | "node";

/** Virtual time: a heap of timers, run in due order; each timer may fire late, as Node's do. */
export class SimClock implements Clock {
  private current = 0;
  private seq = 0;
  private readonly heap: Entry[] = [];

  constructor(
    private readonly lateness: () => number = () => 0,
    private readonly timers: SimTimers = "late",
  ) {}

  now(): number {
    return this.current;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    const delay = this.timers === "node" ? (ms >= 1 && ms <= MAX_TIMER_MS ? Math.trunc(ms) : 1) : Math.max(0, ms);
    return this.after(delay + this.lateness(), signal);
  }

  /** A wait of exactly `ms` (the network's delays are not timers). */
  after(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const entry: Entry = {
        dueAt: this.current + ms,
        seq: this.seq++,
        fire: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        cancelled: false,
      };
      const onAbort = (): void => {
        entry.cancelled = true;
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.push(entry);
    });
  }

  /** Runs timers in due order until `untilMs`, letting woken code run after each. */
  async run(untilMs: number): Promise<void> {
    await flush();
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.dueAt > untilMs) break;
      this.pop();
      if (top.cancelled) continue;
      this.current = Math.max(this.current, top.dueAt);
      top.fire();
      await flush();
    }
    this.current = Math.max(this.current, untilMs);
    await flush();
  }

  private less(a: Entry, b: Entry): boolean {
    return a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.seq < b.seq);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    for (let i = h.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    for (let i = 0; ;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** One simulated run's inputs. */
export interface SimOptions {
  readonly scenario: Scenario;
  readonly headers: HeaderMode;
  /** The run number: it fixes the random draws, so a run is repeatable. */
  readonly run: number;
  readonly workers?: number;
  /** How late a timer may fire beyond 0.1 ms (ms, uniform): 1.2 on a quiet machine; a loaded one is later. */
  readonly timerLateMs?: number;
  /** How timers fire (default `late`). */
  readonly timers?: SimTimers;
  /**
   * The client reads whole milliseconds, as on `Date.now()` (`systemClock`), their edges at a
   * phase drawn for the run; default: the exact time, as on `preciseClock`.
   */
  readonly coarseClock?: boolean;
  /** Makes the client under test; default Breakwater's `ApiClient` with no rate config and 5 retries. */
  readonly client?: (fetch: (url: string, init: RequestInit) => Promise<Response>, clock: Clock) => SimClient;
}

/** A client under test on virtual time. */
export interface SimClient {
  send(signal: AbortSignal): Promise<unknown>;
  /** The pace it keeps now (requests/s), for the chart. */
  rate(): number;
}

/** What a simulated run gives. */
export interface SimResult {
  readonly measures: AdaptiveMeasures;
  readonly timeline: Timeline;
  /** `[seconds, requests/s]` samples of the client's pace, every 100 ms. */
  readonly paced: [number, number][];
}

/** Breakwater's `ApiClient` as a {@link SimClient}; `options` are the client's (default: none but 5 retries). */
export function breakwaterSimClient(
  fetch: (url: string, init: RequestInit) => Promise<Response>,
  clock: Clock,
  options: Partial<ApiClientOptions> = {},
): SimClient {
  const client = new ApiClient({ baseUrl: "http://upstream.test", maxRetriesOnBackoff: 5, ...options, fetch, clock });
  return {
    async send(signal) {
      const response = await client.request("GET", "/item", { signal });
      await response.arrayBuffer();
    },
    rate: () => client.limiter.snapshot().ratePerSec,
  };
}

/**
 * `processes` of Breakwater's `ApiClient` sharing one limiter record (one store, one key), as
 * a fleet shares it through RedisStore, minus the round trip; calls go to each in turn.
 */
export function fleetSimClient(processes: number, options: Partial<ApiClientOptions> = {}): NonNullable<SimOptions["client"]> {
  return (fetch, clock) => {
    const store = new MemoryStore({ sweepIntervalMs: 0, clock });
    const clients = Array.from({ length: processes }, () => breakwaterSimClient(fetch, clock, { ...options, store, key: "fleet" }));
    let next = 0;
    return {
      send: (signal) => clients[next++ % processes]!.send(signal),
      rate: () => clients[0]!.rate(),
    };
  };
}

/** Runs one scenario on virtual time. */
export async function simulate(options: SimOptions): Promise<SimResult> {
  const { scenario, headers } = options;
  const workers = options.workers ?? 16;
  const random = randomFrom(options.run);
  // Node's timers fire 0.1-1.3 ms late on a quiet machine; loopback takes 0.1-0.5 ms each way.
  const clock = new SimClock(() => 0.1 + (options.timerLateMs ?? 1.2) * random(), options.timers);
  const net = (): number => 0.1 + 0.4 * random();
  const [sMin, sMax] = scenario.serviceMs;
  const model: LimitModel = createLimitModel(scenario.kind, { ...scenario.shape, windowOffsetMs: Math.floor(random() * 1000) });
  const timeline: Timeline = { ok: [], throttled: [], unavailable: [] };

  const fetch = async (_url: string, init: RequestInit): Promise<Response> => {
    const signal = init.signal ?? undefined;
    await clock.after(net(), signal);
    const ms = clock.now();
    const responseHeaders: Record<string, string> = {};
    let status = 200;
    let admitted = false;
    if (limitAt(scenario, ms) === 0) {
      status = 503;
      countAt(timeline.unavailable, ms);
    } else {
      const limit = limitAt(scenario, ms);
      const v = model.admit(ms, limit);
      admitted = v.ok;
      if (v.ok) countAt(timeline.ok, ms);
      else {
        status = 429;
        countAt(timeline.throttled, ms);
      }
      writeRateLimitHeaders(responseHeaders, v, headers, Date.now());
    }
    await clock.after(sMin + (sMax - sMin) * random());
    if (admitted) model.finish(clock.now());
    await clock.after(net(), signal);
    return new Response(status === 200 ? '{"ok":true}' : "{}", { status, headers: responseHeaders });
  };

  // The upstream keeps its own exact time. The client's clock, with Node's timers, is one of
  // the library's real ones: systemClock reads whole ms and passes a delay as it is,
  // preciseClock reads the fraction and rounds a delay up (else Node's truncation wakes it early).
  const phase = options.coarseClock ? random() : 0;
  const clientClock: Clock = options.coarseClock
    ? { now: () => Math.floor(clock.now() + phase), sleep: (ms, signal) => clock.sleep(ms, signal) }
    : options.timers === "node"
      ? { now: () => clock.now(), sleep: (ms, signal) => clock.sleep(Math.ceil(ms), signal) }
      : clock;
  const client = (options.client ?? breakwaterSimClient)(fetch, clientClock);
  const records: CallRecord[] = [];
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  const durationMs = durationOf(scenario);
  const paced: [number, number][] = [];
  const worker = async (): Promise<void> => {
    while (!stop.signal.aborted) {
      const startMs = clock.now();
      try {
        await client.send(stop.signal);
        if (!stop.signal.aborted) records.push({ startMs, endMs: clock.now(), outcome: "ok" });
      } catch (error) {
        if (stop.signal.aborted) break;
        records.push({ startMs, endMs: clock.now(), outcome: "failed", error: error instanceof Error ? error.name : String(error) });
      }
    }
  };
  const sampler = async (): Promise<void> => {
    while (!stop.signal.aborted) {
      paced.push([clock.now() / 1000, client.rate()]);
      await clock.after(100, stop.signal).catch(() => undefined);
    }
  };
  const done = Promise.all([...Array.from({ length: workers }, worker), sampler()]);
  await clock.run(durationMs);
  stop.abort();
  await clock.run(durationMs + 60_000);
  await done;
  return { measures: measureRun(scenario, workers, timeline, records), timeline, paced };
}
