// Bundles the chat page (page/main.ts with the client and the stock SignalR client) into the server's wwwroot.
import { build } from "esbuild";
import { mkdir, copyFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "SignalRChat.Server", "wwwroot");
await mkdir(out, { recursive: true });
await build({
  entryPoints: [join(here, "page", "main.ts")],
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: true,
  outfile: join(out, "app.js"),
  logLevel: "warning",
});
await copyFile(join(here, "page", "index.html"), join(out, "index.html"));
await copyFile(join(here, "page", "app.css"), join(out, "app.css"));
