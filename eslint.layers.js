// The layers of src/, lowest first: a folder may import its own layer's folders (without a cycle) and
// any lower layer, never a higher one. `npm run lint` enforces it; test/lint/layers.test.ts proves
// that a planted upward import or cycle fails. docs/architecture.md ("Layers") explains each layer.
import importX from "eslint-plugin-import-x";
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";

/** Each entry: the folders under src/ of one layer, and whether its folders may import each other. */
export const LAYERS = [
  { name: "core", folders: ["core"], peers: true },
  { name: "store", folders: ["store"], peers: true },
  { name: "backoff", folders: ["backoff"], peers: true },
  { name: "policies", folders: ["breaker", "retry", "limit", "policy"], peers: true },
  { name: "http", folders: ["http"], peers: true },
  { name: "observe", folders: ["observe"], peers: true },
  { name: "integrations", folders: ["redis", "prometheus", "otel", "dashboard"], peers: false },
  { name: "cli", folders: ["cli"], peers: true },
];

/** The `import-x/no-restricted-paths` zones that keep every layer from importing a higher one. */
export function layerZones(layers = LAYERS) {
  const zones = [];
  layers.forEach((layer, index) => {
    const higher = layers.slice(index + 1).flatMap((l) => l.folders);
    for (const folder of layer.folders) {
      const peers = layer.peers ? [] : layer.folders.filter((f) => f !== folder);
      const from = [...higher, ...peers, "index.ts"].map((f) => `./src/${f}`);
      zones.push({
        target: `./src/${folder}`,
        from,
        message: `src/${folder}/ is in the ${layer.name} layer and may import only lower layers${layer.peers ? " or its own" : ""} (see docs/architecture.md, "Layers").`,
      });
    }
  });
  return zones;
}

/**
 * The flat-config block that enforces the layers and forbids import cycles in `src/`.
 * `basePath` is the folder that holds `src/` (the repository, or a test's fixture).
 */
export function layerConfig(basePath) {
  return {
    files: ["src/**/*.ts"],
    plugins: { "import-x": importX },
    settings: {
      // no-cycle parses each imported module: it must know .ts files and their parser.
      "import-x/extensions": [".ts", ".js"],
      "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
      "import-x/resolver-next": [createTypeScriptImportResolver({ alwaysTryTypes: false })],
    },
    rules: {
      "import-x/no-restricted-paths": ["error", { basePath, zones: layerZones() }],
      "import-x/no-cycle": ["error", { ignoreExternal: true }],
    },
  };
}
