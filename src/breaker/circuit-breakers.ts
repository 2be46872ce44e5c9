import type { Backoff } from "../backoff/backoff.js";
import type { Clock } from "../core/clock.js";
import { InvalidOptionError, type FailureRecord } from "../core/errors.js";
import { addListener, type ListenerErrorHandler } from "../core/events.js";
import type { ExecuteOptions, Operation } from "../core/policy.js";
import { attachEach, checkAttach, type Telemetry, telemetryOption } from "../core/telemetry.js";
import { checkKeys, nonEmptyString, orDefault } from "../core/validate.js";
import { MemoryStore } from "../store/memory.js";
import type { Store } from "../store/store.js";
import {
  BREAKER_POLICY_KEYS,
  CircuitBreaker,
  type CircuitBreakerOptions,
  type Classification,
  type StateChangeEvent,
} from "./circuit-breaker.js";
import type { BreakerStatus } from "./status.js";
import {
  checkErrorFilter,
  checkResultFilter,
  errorClassifier,
  type ErrorFilter,
  resultClassifier,
  type ResultFilter,
} from "../core/classify.js";
import type { TripRule } from "./trip.js";

/** A service's policy: the breaker options that may differ per service. */
export interface ServicePolicy {
  readonly trip?: TripRule;
  readonly recovery?: number | Backoff;
  readonly halfOpen?: CircuitBreakerOptions["halfOpen"];
  readonly failOn?: ErrorFilter;
  readonly ignore?: ErrorFilter;
  readonly failOnResult?: ResultFilter;
  readonly failureReason?: string;
  readonly historySize?: number;
  /** See {@link CircuitBreakerOptions.quorum}. */
  readonly quorum?: number;
  /** See {@link CircuitBreakerOptions.slowCallMs}. */
  readonly slowCallMs?: number;
  /** See {@link CircuitBreakerOptions.mode}. */
  readonly mode?: CircuitBreakerOptions["mode"];
}

/** Per-call (or per-wrapper) overrides of how outcomes are judged. */
export interface CallOverrides extends ExecuteOptions {
  readonly failOn?: ErrorFilter;
  readonly ignore?: ErrorFilter;
  readonly failOnResult?: ResultFilter;
  /** The reason recorded when `failOnResult` matches. */
  readonly failureReason?: string;
}

/** Options of {@link CircuitBreakers}. */
export interface CircuitBreakersOptions {
  /** The policy of every service not named in `services`. */
  readonly defaults?: ServicePolicy;
  /** Per-service policies; each is merged over `defaults`. */
  readonly services?: Readonly<Record<string, ServicePolicy>>;
  /** Shared by every service's breaker. Default: one `MemoryStore`. */
  readonly store?: Store;
  /** Prefix of every store key, e.g. `"myapp:circuit"`. Default `"breakwater"`. */
  readonly namespace?: string;
  readonly clock?: Clock;
  /** The source of the recovery schedules' jitter, in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
  /** Called on every state change of every service. */
  readonly onStateChange?: (event: StateChangeEvent) => void;
  readonly onListenerError?: ListenerErrorHandler;
  /** Where every service's breaker reports its events (see docs/telemetry.md). Default: none. */
  readonly telemetry?: Telemetry;
}

const WHERE = "CircuitBreakers";
const POLICY_KEYS = BREAKER_POLICY_KEYS;
const OVERRIDE_KEYS = ["failOn", "ignore", "failOnResult", "failureReason", "signal", "attempt"];

type MethodDecorator = <This, A extends unknown[], R>(
  method: (this: This, ...args: A) => Promise<R> | R,
  context: ClassMethodDecoratorContext<This, (this: This, ...args: A) => Promise<R> | R>,
) => (this: This, ...args: A) => Promise<R>;

/** What `protect(service)` returns: a function wrapper that is also a TS 5 method decorator. */
export type Protector = (<A extends unknown[], R>(fn: (...args: A) => R | PromiseLike<R>) => (...args: A) => Promise<R>) & MethodDecorator;

/**
 * Many named services in one object: each service gets its own breaker,
 * created on first use from its policy (or `defaults`). Per-call overrides win over the
 * service's policy, which wins over `defaults`.
 */
export class CircuitBreakers {
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly defaults: ServicePolicy;
  private readonly services: Readonly<Record<string, ServicePolicy>>;
  private readonly store: Store;
  private readonly namespace: string;
  private readonly base: Pick<CircuitBreakerOptions, "clock" | "random" | "onStateChange" | "onListenerError" | "telemetry">;
  private readonly created: ((service: string, breaker: CircuitBreaker) => void)[] = [];

  constructor(options: CircuitBreakersOptions = {}) {
    checkKeys(WHERE, options, [
      "defaults",
      "services",
      "store",
      "namespace",
      "clock",
      "random",
      "onStateChange",
      "onListenerError",
      "telemetry",
    ]);
    this.defaults = options.defaults ?? {};
    checkKeys(WHERE, this.defaults, POLICY_KEYS, "defaults.");
    this.services = options.services ?? {};
    for (const [name, policy] of Object.entries(this.services)) checkKeys(WHERE, policy, POLICY_KEYS, `services.${name}.`);
    this.store = options.store ?? new MemoryStore({ sweepIntervalMs: 0 });
    this.namespace = nonEmptyString(WHERE, "namespace", orDefault(options.namespace, "breakwater"));
    this.base = {
      clock: options.clock,
      random: options.random,
      onStateChange: options.onStateChange,
      onListenerError: options.onListenerError,
      telemetry: telemetryOption(WHERE, options.telemetry),
    };
    // Bad policies fail now: build every configured service, and check the defaults once.
    for (const name of Object.keys(this.services)) this.get(name);
    new CircuitBreaker({ ...definedOnly(this.defaults), name: "defaults", store: new MemoryStore({ sweepIntervalMs: 0 }) });
  }

  /** The breaker of `service`, created from its policy on first use. */
  get(service: string): CircuitBreaker {
    let breaker = this.breakers.get(service);
    if (breaker === undefined) {
      nonEmptyString(WHERE, "service", service);
      const policy = { ...this.defaults, ...this.services[service] };
      breaker = new CircuitBreaker({
        ...definedOnly(this.base),
        ...definedOnly(policy),
        name: service,
        store: this.store,
        key: `${this.namespace}:{${service}}`,
      });
      this.breakers.set(service, breaker);
      // A copy: a listener may unsubscribe itself (or another) while they are called.
      for (const listener of [...this.created]) listener(service, breaker);
    }
    return breaker;
  }

  /** Calls `listener` for each breaker created from now on (metrics use it); returns an unsubscribe. */
  onCreate(listener: (service: string, breaker: CircuitBreaker) => void): () => void {
    return addListener(this.created, listener);
  }

  /**
   * Reports the events of every service's breaker, created now or later, to `telemetry` too;
   * returns the function that detaches it from all of them.
   */
  attach(telemetry: Telemetry): () => void {
    checkAttach(`${WHERE}.attach`, telemetry, undefined);
    return attachEach(this.breakers.values(), (listener) => this.onCreate((_service, breaker) => listener(breaker)), telemetry);
  }

  /** The services that have a breaker so far. */
  names(): string[] {
    return [...this.breakers.keys()];
  }

  /** Runs `fn` under `service`'s breaker; overrides are resolved now, at call time. */
  execute<T>(service: string, fn: Operation<T>, overrides?: CallOverrides): Promise<T> {
    const breaker = this.get(service);
    if (overrides === undefined || !hasClassification(overrides)) return breaker.execute(fn, overrides);
    return breaker.run(fn, overrides, this.classify(service, overrides));
  }

  /**
   * Protects a function, or a class method when used as a decorator. Overrides are
   * resolved once, here, at wrap time (for a decorator: when the class is defined).
   */
  protect(service: string, overrides: CallOverrides = {}): Protector {
    checkKeys(WHERE, overrides, OVERRIDE_KEYS);
    const how = this.classify(service, overrides);
    const breaker = this.get(service);
    const wrap = (fn: (...args: unknown[]) => unknown, thisArg?: unknown): ((...args: unknown[]) => Promise<unknown>) =>
      function protectedCall(this: unknown, ...args: unknown[]) {
        return breaker.run(() => fn.apply(thisArg ?? this, args), overrides, how);
      };
    return ((fn: (...args: unknown[]) => unknown, context?: ClassMethodDecoratorContext) => {
      if (typeof fn !== "function") throw new InvalidOptionError(WHERE, "protect(fn)", fn, "a function");
      if (context !== undefined && context.kind !== "method") {
        throw new InvalidOptionError(WHERE, "protect decorator", context.kind, "a class method");
      }
      return wrap(fn);
    }) as Protector;
  }

  /** True when `service` would let a call through now. */
  isAvailable(service: string): boolean {
    return this.get(service).isAvailable();
  }

  /** Records a failure for `service` by hand. */
  recordFailure(service: string, reason?: unknown): void {
    this.get(service).recordFailure(reason);
  }

  /** Records a success for `service` by hand. */
  recordSuccess(service: string): void {
    this.get(service).recordSuccess();
  }

  /** `service`'s most recent failure, or undefined. */
  lastFailure(service: string): FailureRecord | undefined {
    return this.breakers.get(service)?.lastFailure();
  }

  /** The status of every service that has a breaker. */
  status(): Record<string, BreakerStatus> {
    const out: Record<string, BreakerStatus> = {};
    for (const [name, breaker] of this.breakers) out[name] = breaker.status();
    return out;
  }

  /** Releases the shared store. */
  async close(): Promise<void> {
    await this.store.close();
  }

  private classify(service: string, overrides: CallOverrides): Classification {
    const policy = { ...this.defaults, ...this.services[service] };
    const failOn = checkErrorFilter(WHERE, "failOn", overrides.failOn) ?? policy.failOn;
    const ignore = checkErrorFilter(WHERE, "ignore", overrides.ignore) ?? policy.ignore;
    const failOnResult = checkResultFilter(WHERE, "failOnResult", overrides.failOnResult) ?? policy.failOnResult;
    const reason = overrides.failureReason ?? policy.failureReason;
    return {
      countsAsFailure: errorClassifier(failOn, ignore),
      resultFailure: resultClassifier(failOnResult, reason),
      resultPolicy: failOnResult,
    };
  }
}

function hasClassification(o: CallOverrides): boolean {
  return o.failOn !== undefined || o.ignore !== undefined || o.failOnResult !== undefined || o.failureReason !== undefined;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
