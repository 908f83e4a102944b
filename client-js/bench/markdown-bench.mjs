// Times re-rendering a streaming reply's markdown in Chromium: parse (micromark + GFM) and build the
// DOM nodes, as the page does once a frame while a reply streams. Run: node bench/markdown-bench.mjs
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
const bundle = await build({
  stdin: { contents: `export { renderMarkdown, MarkdownView } from "./src/markdown.ts";`, resolveDir: join(here, ".."), loader: "ts" },
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
    const stats = (times) => {
      const sorted = [...times].sort((a, b) => a - b);
      const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
      return { median: at(0.5), p95: at(0.95), max: sorted[sorted.length - 1] };
    };
    // The whole reply parsed and built from nothing (a reload, a snapshot).
    const cold = [];
    for (let i = 0; i < 20; i++) {
      const start = performance.now();
      out.replaceChildren(...md.renderMarkdown(document, text));
      cold.push(performance.now() - start);
    }
    // Streaming: the page re-renders once a frame as deltas arrive (here 40 characters between frames).
    out.replaceChildren();
    const view = new md.MarkdownView(document, out);
    const streaming = [];
    for (let length = 40; length <= text.length; length += 40) {
      const start = performance.now();
      view.render(text.slice(0, length));
      if (length > text.length - 4000) {
        streaming.push(performance.now() - start);
      }
    }
    return { chars: text.length, cold: stats(cold.slice(5)), streaming: stats(streaming), tables: out.querySelectorAll("table").length };
  }, reply);
  const show = (s) => `median ${s.median.toFixed(2)} ms, p95 ${s.p95.toFixed(2)} ms, max ${s.max.toFixed(2)} ms`;
  console.log(`${result.chars}-character reply (${result.tables} tables), one frame is 16.7 ms`);
  console.log(`  streaming re-render near the end (last 4,000 characters, a frame every 40): ${show(result.streaming)}`);
  console.log(`  whole reply from nothing: ${show(result.cold)}`);
} finally {
  await browser.close();
}
