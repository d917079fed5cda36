import { defineConfig } from "@solidjs/start/config";
import { fileURLToPath } from "node:url";

// The test's node_modules has h3 v2 at its top (t/09's); vinxi 0.5 is built
// on the h3 v1 it brings, which a SolidStart project has at its top.
const h3 = fileURLToPath(new URL("./node_modules/vinxi/node_modules/h3", import.meta.url));

export default defineConfig({
  server: { preset: "cloudflare-module", compatibilityDate: "2025-05-21", alias: { h3 } },
  vite: { resolve: { alias: { h3 } } },
});
