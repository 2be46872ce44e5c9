import { InvalidOptionError } from "../core/errors.js";

/**
 * `apiRateConfig(name)` was asked for an API that has no preset and was never registered.
 *
 * It is an {@link InvalidOptionError} (option `"name"`), so code that already handles bad
 * options handles it too; the message lists every known name, and {@link known} holds them.
 */
export class UnknownApiRateConfigError extends InvalidOptionError {
  /** The name that was asked for, as given. */
  readonly api: string;
  /** Every name `apiRateConfig` knows (presets and registered configs), sorted. */
  readonly known: readonly string[];

  constructor(where: string, api: string, known: readonly string[]) {
    super(where, "name", api, `one of the known APIs (${known.join(", ")}) or a name registered with registerApiRateConfig(name, config)`);
    this.api = api;
    this.known = Object.freeze([...known]);
  }
}
