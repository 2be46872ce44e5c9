import { defineConfig } from "tsup";

// One entry per public subpath; add new subpaths here and in package.json "exports".
export const entries = {
  index: "src/index.ts",
  http: "src/http/index.ts",
  prometheus: "src/prometheus/index.ts",
  otel: "src/otel/index.ts",
  dashboard: "src/dashboard/index.ts",
  redis: "src/redis/index.ts",
  // The `breakwater` bin: its source starts with `#!/usr/bin/env node`, which esbuild keeps.
  cli: "src/cli/main.ts",
};

export default defineConfig({
  entry: entries,
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
  splitting: true,
  treeshake: true,
});
