// Times re-rendering a streaming reply's markdown in Chromium: parse (micromark + GFM) and build the
// DOM nodes, as the page does once a frame while a reply streams. Run: node bench/markdown-bench.mjs
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
const bundle = await build({
  stdin: { contents: `export { renderMarkdown } from "./src/markdown.ts";`, resolveDir: join(here, ".."), loader: "ts" },
  bundle: true,
  format: "iife",
  globalName: "md",
  write: false,
  minify: true,
});

// A reply the way models write them: headings, paragraphs with marks and links, nested lists, a table, code.
const part = [
  "## Section\n\nSome **bold**, some `code`, a [link](https://example.com) and _emphasis_ in a sentence of ordinary length.\n",
  "- first point\n  - a nested point with `code`\n  - another nested point\n- second point\n\n",
  "| name | value | note |\n| --- | ---: | --- |\n| alpha | 1 | fine |\n| beta | 22 | **bold** |\n\n",
  "> a quoted line\n\n```ts\nconst total = items.reduce((sum, item) => sum + item.value, 0);\n```\n\n",
].join("");
let reply = "";
while (reply.length < 20_000) {
  reply += part;
}
reply = reply.slice(0, 20_000);

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"] });
try {
  const page = await browser.newPage();
  await page.setContent("<div id=out></div>");
  await page.addScriptTag({ content: bundle.outputFiles[0].text });
  const result = await page.evaluate((text) => {
    const out = document.getElementById("out");
    const times = [];
    for (let i = 0; i < 60; i++) {
      const start = performance.now();
      out.replaceChildren(...md.renderMarkdown(document, text));
      times.push(performance.now() - start);
    }
    const steady = times.slice(10).sort((a, b) => a - b);
    const at = (q) => steady[Math.min(steady.length - 1, Math.floor(q * steady.length))];
    return { chars: text.length, median: at(0.5), p95: at(0.95), max: steady[steady.length - 1], tables: out.querySelectorAll("table").length };
  }, reply);
  console.log(`markdown re-render of a ${result.chars}-character reply (${result.tables} tables): median ${result.median.toFixed(2)} ms, p95 ${result.p95.toFixed(2)} ms, max ${result.max.toFixed(2)} ms (one frame: 16.7 ms)`);
} finally {
  await browser.close();
}
