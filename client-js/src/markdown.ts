// Assistant replies as markdown: parsed by micromark (CommonMark + GFM: tables, task lists,
// strikethrough, autolinks) into an mdast syntax tree, then built as DOM nodes with createElement
// and createTextNode only, so model text never becomes HTML or script. Raw HTML in the source is
// shown as text; links keep only http(s) and mailto targets; images are shown as their text.
import type { Nodes, Parents, Root, RootContent, Table } from "mdast";
import { fromMarkdown } from "mdast-util-from-markdown";
import { gfmFromMarkdown } from "mdast-util-gfm";
import { gfm } from "micromark-extension-gfm";

/** Only these link targets are kept; anything else (javascript:, data:) stays plain text. */
export function safeHref(href: string): string | null {
  const trimmed = href.trim();
  return /^(https?:\/\/|mailto:)/i.test(trimmed) ? trimmed : null;
}

const extensions = [gfm()];
const mdastExtensions = [gfmFromMarkdown()];

/** The markdown's syntax tree (mdast). A code fence still open (the reply is streaming) runs to the end. */
export function parseMarkdown(source: string): Root {
  return fromMarkdown(source, { extensions, mdastExtensions });
}

/** Builds the markdown as DOM nodes (never innerHTML), ready to append. */
export function renderMarkdown(doc: Document, source: string): Node[] {
  return children(doc, parseMarkdown(source));
}

function children(doc: Document, parent: Parents): Node[] {
  const out: Node[] = [];
  for (const child of parent.children) {
    const node = build(doc, child);
    if (node) {
      out.push(node);
    }
  }
  return out;
}

function element(doc: Document, tag: string, parent: Parents): HTMLElement {
  const el = doc.createElement(tag);
  el.append(...children(doc, parent));
  return el;
}

function build(doc: Document, node: RootContent | Nodes): Node | null {
  switch (node.type) {
    case "paragraph":
      return element(doc, "p", node);
    case "heading":
      // h1 and h2 belong to the page; a reply's headings start at h3.
      return element(doc, `h${Math.min(6, node.depth + 2)}`, node);
    case "blockquote":
      return element(doc, "blockquote", node);
    case "list": {
      const list = element(doc, node.ordered ? "ol" : "ul", node);
      if (node.ordered && node.start !== null && node.start !== undefined && node.start !== 1) {
        list.setAttribute("start", String(node.start));
      }
      return list;
    }
    case "listItem": {
      const li = doc.createElement("li");
      if (typeof node.checked === "boolean") {
        const box = doc.createElement("input");
        box.type = "checkbox";
        box.checked = node.checked;
        box.disabled = true;
        li.append(box, doc.createTextNode(" "));
      }
      // A tight list's paragraphs are shown inline, as a browser would for `<li>text</li>`.
      for (const child of node.children) {
        const built = child.type === "paragraph" && node.spread === false ? children(doc, child) : [build(doc, child)];
        for (const part of built) {
          if (part) {
            li.append(part);
          }
        }
      }
      return li;
    }
    case "code": {
      const pre = doc.createElement("pre");
      const code = doc.createElement("code");
      if (node.lang) {
        code.dataset["language"] = node.lang;
      }
      code.textContent = node.value;
      pre.append(code);
      return pre;
    }
    case "table":
      return table(doc, node);
    case "thematicBreak":
      return doc.createElement("hr");
    case "break":
      return doc.createElement("br");
    case "emphasis":
      return element(doc, "em", node);
    case "strong":
      return element(doc, "strong", node);
    case "delete":
      return element(doc, "del", node);
    case "inlineCode": {
      const code = doc.createElement("code");
      code.textContent = node.value;
      return code;
    }
    case "link": {
      const href = safeHref(node.url);
      if (!href) {
        const span = doc.createElement("span");
        span.append(...children(doc, node));
        return span;
      }
      const a = element(doc, "a", node) as HTMLAnchorElement;
      a.href = href;
      a.rel = "noopener noreferrer";
      a.target = "_blank";
      return a;
    }
    case "image":
      // Never loaded: a reply cannot make the page fetch anything.
      return doc.createTextNode(node.alt ?? "");
    case "text":
    case "html":
      return doc.createTextNode(node.value);
    case "linkReference":
    case "imageReference":
    case "definition":
    case "footnoteDefinition":
    case "footnoteReference":
      return "children" in node ? element(doc, "span", node) : null;
    default:
      return "children" in node ? element(doc, "span", node as Parents) : "value" in node ? doc.createTextNode(String(node.value)) : null;
  }
}

function table(doc: Document, node: Table): HTMLElement {
  const el = doc.createElement("table");
  const head = doc.createElement("thead");
  const body = doc.createElement("tbody");
  node.children.forEach((row, index) => {
    const tr = doc.createElement("tr");
    row.children.forEach((cell, column) => {
      const td = element(doc, index === 0 ? "th" : "td", cell);
      const align = node.align?.[column];
      if (align) {
        td.style.textAlign = align;
      }
      tr.append(td);
    });
    (index === 0 ? head : body).append(tr);
  });
  el.append(head);
  if (body.childElementCount > 0) {
    el.append(body);
  }
  return el;
}

const fenceLine = /^ {0,3}(`{3,}|~{3,})/;
const listStart = /^(?:[-*+]|\d{1,9}[.)])(?:\s|$)/;

/**
 * Cuts markdown into top-level pieces that parse the same alone as together: at a blank line outside a
 * code fence, before a line that starts a new block at the margin (not an indented continuation, not a
 * further list item). Joined, the pieces are the source again.
 */
export function splitBlocks(source: string): string[] {
  const pieces: string[] = [];
  let start = 0;
  let fence: string | null = null;
  let afterBlank = false;
  let position = 0;
  while (position < source.length) {
    const end = source.indexOf("\n", position);
    const next = end === -1 ? source.length : end + 1;
    const line = source.slice(position, end === -1 ? source.length : end);
    const marker = fenceLine.exec(line)?.[1];
    if (fence === null && afterBlank && position > start && line.trim() !== "" && !/^\s/.test(line) && !listStart.test(line)) {
      pieces.push(source.slice(start, position));
      start = position;
    }
    if (marker) {
      if (fence === null) {
        fence = marker;
      } else if (marker[0] === fence[0] && marker.length >= fence.length && line.trim() === marker) {
        fence = null;
      }
    }
    afterBlank = line.trim() === "";
    position = next;
  }
  if (start < source.length) {
    pieces.push(source.slice(start));
  }
  return pieces;
}

/**
 * Renders a reply into one element and keeps it up to date as it grows: only the pieces (see
 * {@link splitBlocks}) that changed are parsed and built again, so a long reply that streams costs
 * about its last paragraph a frame, not its whole length.
 */
export class MarkdownView {
  private parts: { text: string; nodes: Node[] }[] = [];

  constructor(
    private readonly doc: Document,
    private readonly container: HTMLElement,
  ) {}

  render(source: string): void {
    const pieces = splitBlocks(source);
    let same = 0;
    while (same < pieces.length && same < this.parts.length && this.parts[same]?.text === pieces[same]) {
      same++;
    }
    for (const stale of this.parts.splice(same)) {
      for (const node of stale.nodes) {
        node.parentNode?.removeChild(node);
      }
    }
    for (const text of pieces.slice(same)) {
      const nodes = renderMarkdown(this.doc, text);
      this.container.append(...nodes);
      this.parts.push({ text, nodes });
    }
  }
}
