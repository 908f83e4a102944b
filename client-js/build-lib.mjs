// Builds the client library into dist/ (ESM JavaScript and type declarations); the stock SignalR packages stay dependencies.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
await build({
  entryPoints: [join(here, "src", "index.ts")],
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  sourcemap: true,
  external: ["@microsoft/signalr", "@microsoft/signalr-protocol-msgpack"],
  outfile: join(here, "dist", "index.js"),
  logLevel: "warning",
});
execFileSync(process.execPath, [join(here, "node_modules", "typescript", "bin", "tsc"), "-p", join(here, "tsconfig.lib.json")], { stdio: "inherit" });
