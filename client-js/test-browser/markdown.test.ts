import { build } from "esbuild";
import { chromium, type Browser, type Page } from "playwright-core";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The page's markdown renderer, bundled as the page bundles it, run in real Chromium.
let browser: Browser;
let page: Page;

beforeAll(async () => {
  const here = dirname(fileURLToPath(import.meta.url));
  const bundle = await build({
    stdin: { contents: `export { renderMarkdown, MarkdownView } from "./src/markdown.ts";`, resolveDir: join(here, ".."), loader: "ts" },
    bundle: true,
    format: "iife",
    globalName: "md",
    write: false,
  });
  browser = await chromium.launch({ executablePath: process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"] });
  page = await browser.newPage();
  await page.setContent("<div id=out></div>");
  await page.addScriptTag({ content: bundle.outputFiles[0]?.text ?? "" });
});

afterAll(async () => {
  await browser?.close();
});

/** Renders the markdown into #out, all at once or growing piece by piece as a streaming reply does, and answers its HTML. */
async function render(source: string, streamed = false): Promise<string> {
  return page.evaluate(
    ([text, grow]) => {
      const out = document.getElementById("out") as HTMLElement;
      out.replaceChildren();
      const md = (window as unknown as { md: { MarkdownView: new (d: Document, e: HTMLElement) => { render(t: string): void } } }).md;
      const view = new md.MarkdownView(document, out);
      if (grow) {
        for (let length = 1; length <= text.length; length += 7) {
          view.render(text.slice(0, length));
        }
      }
      view.render(text);
      return out.innerHTML;
    },
    [source, streamed] as const,
  );
}

const sample = [
  "## Plan",
  "",
  "| step | owner |",
  "| --- | :---: |",
  "| buy **food** | alice |",
  "| cook | bob |",
  "",
  "- shopping",
  "  - bread",
  "  - cheese",
  "- cooking",
  "",
  "> remember the `oven`",
  "",
  "```js",
  "const x = 1 < 2;",
  "```",
].join("\n");

describe("markdown in the page", () => {
  it("renders a table, a nested list, a block quote and fenced code as elements", async () => {
    for (const streamed of [false, true]) {
      const html = await render(sample, streamed);
      expect(html).toContain("<h4>Plan</h4>");
      expect(html).toContain('<table><thead><tr><th>step</th><th style="text-align: center;">owner</th></tr></thead><tbody><tr><td>buy <strong>food</strong></td>');
      expect(html).toContain("<ul><li>shopping<ul><li>bread</li><li>cheese</li></ul></li><li>cooking</li></ul>");
      expect(html).toContain("<blockquote><p>remember the <code>oven</code></p></blockquote>");
      expect(html).toContain('<pre><code data-language="js">const x = 1 &lt; 2;</code></pre>');
    }
  });

  it("keeps links to http(s) and mailto, shows HTML as text and never loads an image", async () => {
    const html = await render('[ok](https://example.com) [bad](javascript:alert(1)) <img src=x onerror="alert(1)"> ![pic](https://example.com/p.png)');
    expect(html).toContain('<a href="https://example.com" rel="noopener noreferrer" target="_blank">ok</a>');
    expect(html).toContain("<span>bad</span>");
    expect(html).toContain("&lt;img src=x onerror=\"alert(1)\"&gt;");
    expect(html).not.toContain("<img");
    expect(await page.locator("#out a").count()).toBe(1);
  });
});
