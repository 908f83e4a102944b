// A small, safe markdown subset for assistant replies: the text is parsed into a tree and built as
// DOM nodes with createElement/createTextNode only, so model text can never become HTML or script.

export type Inline =
  | { kind: "text"; text: string }
  | { kind: "code"; text: string }
  | { kind: "strong"; children: Inline[] }
  | { kind: "em"; children: Inline[] }
  | { kind: "link"; href: string; children: Inline[] };

export type Block =
  | { kind: "paragraph"; children: Inline[] }
  | { kind: "heading"; level: 1 | 2 | 3; children: Inline[] }
  | { kind: "code"; language: string; text: string }
  | { kind: "list"; ordered: boolean; items: Inline[][] };

const fence = /^\s*```\s*([\w+-]*)\s*$/;
const heading = /^(#{1,3})\s+(.*)$/;
const bullet = /^\s*[-*+]\s+(.*)$/;
const numbered = /^\s*\d{1,9}[.)]\s+(.*)$/;

/** Only these link targets are kept; anything else (javascript:, data:) stays plain text. */
export function safeHref(href: string): string | null {
  const trimmed = href.trim();
  return /^(https?:\/\/|mailto:)/i.test(trimmed) ? trimmed : null;
}

export function parseMarkdown(source: string): Block[] {
  const lines = source.replace(/\r\n?/g, "\n").split("\n");
  const blocks: Block[] = [];
  let paragraph: string[] = [];
  const flush = (): void => {
    if (paragraph.length > 0) {
      blocks.push({ kind: "paragraph", children: parseInline(paragraph.join("\n")) });
      paragraph = [];
    }
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const open = fence.exec(line);
    if (open) {
      flush();
      const body: string[] = [];
      // A fence still open (the reply is streaming) runs to the end.
      while (++i < lines.length && !fence.test(lines[i] ?? "")) {
        body.push(lines[i] ?? "");
      }
      blocks.push({ kind: "code", language: open[1] ?? "", text: body.join("\n") });
      continue;
    }
    const head = heading.exec(line);
    if (head) {
      flush();
      blocks.push({ kind: "heading", level: (head[1]?.length ?? 1) as 1 | 2 | 3, children: parseInline(head[2] ?? "") });
      continue;
    }
    const item = bullet.exec(line) ?? numbered.exec(line);
    if (item) {
      flush();
      const ordered = !bullet.test(line);
      const items: Inline[][] = [parseInline(item[1] ?? "")];
      while (i + 1 < lines.length) {
        const next = ordered ? numbered.exec(lines[i + 1] ?? "") : bullet.exec(lines[i + 1] ?? "");
        if (!next) {
          break;
        }
        items.push(parseInline(next[1] ?? ""));
        i++;
      }
      blocks.push({ kind: "list", ordered, items });
      continue;
    }
    if (line.trim() === "") {
      flush();
      continue;
    }
    paragraph.push(line);
  }
  flush();
  return blocks;
}

const inlinePattern = /`([^`\n]+)`|\*\*(.+?)\*\*|__(.+?)__|\*([^*\s][^*]*?)\*|_([^_\s][^_]*?)_|\[([^\]\n]+)\]\(([^)\s]+)\)|(https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"])/g;

export function parseInline(text: string): Inline[] {
  const out: Inline[] = [];
  let last = 0;
  for (const match of text.matchAll(inlinePattern)) {
    const index = match.index ?? 0;
    if (index > last) {
      out.push({ kind: "text", text: text.slice(last, index) });
    }
    const [whole, code, strong1, strong2, em1, em2, label, href, bare] = match;
    if (code !== undefined) {
      out.push({ kind: "code", text: code });
    } else if (strong1 !== undefined || strong2 !== undefined) {
      out.push({ kind: "strong", children: parseInline(strong1 ?? strong2 ?? "") });
    } else if (em1 !== undefined || em2 !== undefined) {
      out.push({ kind: "em", children: parseInline(em1 ?? em2 ?? "") });
    } else if (label !== undefined && href !== undefined) {
      const safe = safeHref(href);
      out.push(safe ? { kind: "link", href: safe, children: parseInline(label) } : { kind: "text", text: whole });
    } else if (bare !== undefined) {
      out.push({ kind: "link", href: bare, children: [{ kind: "text", text: bare }] });
    }
    last = index + whole.length;
  }
  if (last < text.length) {
    out.push({ kind: "text", text: text.slice(last) });
  }
  return out;
}

function inlineNodes(doc: Document, inlines: Inline[]): Node[] {
  return inlines.map((inline) => {
    switch (inline.kind) {
      case "text":
        return doc.createTextNode(inline.text);
      case "code": {
        const el = doc.createElement("code");
        el.textContent = inline.text;
        return el;
      }
      case "strong":
      case "em": {
        const el = doc.createElement(inline.kind);
        el.append(...inlineNodes(doc, inline.children));
        return el;
      }
      case "link": {
        const el = doc.createElement("a");
        el.href = inline.href;
        el.rel = "noopener noreferrer";
        el.target = "_blank";
        el.append(...inlineNodes(doc, inline.children));
        return el;
      }
    }
  });
}

/** Builds the markdown as DOM nodes (never innerHTML), ready to append. */
export function renderMarkdown(doc: Document, source: string): Node[] {
  return parseMarkdown(source).map((block) => {
    switch (block.kind) {
      case "paragraph": {
        const p = doc.createElement("p");
        p.append(...inlineNodes(doc, block.children));
        return p;
      }
      case "heading": {
        const h = doc.createElement(`h${block.level + 2}`);
        h.append(...inlineNodes(doc, block.children));
        return h;
      }
      case "code": {
        const pre = doc.createElement("pre");
        const code = doc.createElement("code");
        if (block.language) {
          code.dataset["language"] = block.language;
        }
        code.textContent = block.text;
        pre.append(code);
        return pre;
      }
      case "list": {
        const list = doc.createElement(block.ordered ? "ol" : "ul");
        for (const item of block.items) {
          const li = doc.createElement("li");
          li.append(...inlineNodes(doc, item));
          list.append(li);
        }
        return list;
      }
    }
  });
}
