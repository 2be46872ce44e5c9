import js from "@eslint/js";
import tseslint from "typescript-eslint";
import prettier from "eslint-config-prettier";
import { layerConfig } from "./eslint.layers.js";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**", "test-results/**", "docs/api/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-restricted-syntax": ["error", { selector: "ExportDefaultDeclaration", message: "Use named exports." }],
    },
  },
  layerConfig(import.meta.dirname),
  {
    // One clock rule: src/ reads time only through a Clock (an injected one, or systemClock for wall-clock readings).
    // Process lifetime, one rule in one place (src/core/clock.ts): a timer a caller awaits stays ref'ed, others go through background().
    files: ["src/**/*.ts"],
    ignores: ["src/core/clock.ts"],
    rules: {
      "no-restricted-properties": [
        "error",
        { object: "Date", property: "now", message: "Read time through a Clock (the injected clock, or systemClock.now())." },
        { object: "performance", property: "now", message: "Read time through a Clock (the injected clock, or systemClock.now())." },
      ],
      "no-restricted-syntax": [
        "error",
        { selector: "ExportDefaultDeclaration", message: "Use named exports." },
        {
          selector: "CallExpression[callee.property.name='unref']",
          message: "A timer nobody awaits: wrap it in background() from core/clock.ts. A timer a caller awaits stays ref'ed.",
        },
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: "Read time through a Clock: new Date(systemClock.now()), or the injected clock.",
        },
        {
          selector: "CallExpression[callee.name='Date'][arguments.length=0]",
          message: "Read time through a Clock: new Date(systemClock.now()).toString(), or the injected clock.",
        },
      ],
    },
  },
  {
    files: ["*.config.ts", "*.config.js"],
    rules: { "no-restricted-syntax": "off" },
  },
);
