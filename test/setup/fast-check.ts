/**
 * fast-check for every test file (vitest `setupFiles`): an array given a `maxLength` draws
 * lengths up to it. fast-check 4 otherwise sizes every array "small" (about 10 elements,
 * whatever its `maxLength`), so a state machine meant to run 150 steps ran 10.
 */
import fc from "fast-check";

fc.configureGlobal({ defaultSizeToMaxWhenMaxSpecified: true });
