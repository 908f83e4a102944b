import { chromium, type Browser, type Page } from "playwright-core";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ChatClient, signInAsGuest } from "../src/client";
import { freePort, startServer } from "../test/server";

const serverUrl = inject("serverUrl");
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
// The README's screenshot is rewritten only when asked (UPDATE_SCREENSHOT=1), so a test run leaves the tree clean.
const screenshotDir = process.env["UPDATE_SCREENSHOT"] ? join(root, "docs") : join(root, ".test-output");
let browser: Browser;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

afterAll(async () => {
  await browser?.close();
});

/** Opens the shared link `/?room=ROOM&name=NAME` and waits until the page is connected and in the room. */
async function openRoom(url: string, room: string, name: string, options: { width?: number; dark?: boolean; protocol?: "messagepack" } = {}): Promise<Page> {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1000, height: 720 },
    colorScheme: options.dark ? "dark" : "light",
  });
  const page = await context.newPage();
  const dialogs: string[] = [];
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await page.goto(`${url}/?room=${room}&name=${name}${options.protocol ? `&protocol=${options.protocol}` : ""}`);
  await expect.poll(() => page.locator("#connection").textContent(), { timeout: 20_000 }).toBe("connected");
  await page.locator("#chat:not([hidden])").waitFor();
  return page;
}

async function send(page: Page, text: string): Promise<void> {
  await page.getByRole("textbox", { name: "Message" }).fill(text);
  await page.getByRole("textbox", { name: "Message" }).press("Enter");
}

const log = (page: Page) => page.getByRole("log");
const lastReply = (page: Page) => log(page).locator('[data-role="assistant"]').last();

async function close(...pages: Page[]): Promise<void> {
  await Promise.all(pages.map((p) => p.context().close()));
}

describe("the chat page", () => {
  it("two pages in one room see the same reply, streamed in place, and the members present", async () => {
    const alice = await openRoom(serverUrl, "web-two", "alice");
    const bob = await openRoom(serverUrl, "web-two", "bob");
    try {
      await expect.poll(() => alice.locator("#member-list li").allTextContents()).toEqual(["alice (you)", "bob"]);
      await send(alice, "hello from the browser");
      for (const page of [alice, bob]) {
        await expect.poll(() => lastReply(page).getAttribute("data-state"), { timeout: 20_000 }).toBe("completed");
        await expect.poll(() => log(page).locator('[data-role="user"]').last().locator(".text").textContent()).toBe("hello from the browser");
      }
      const aliceText = await lastReply(alice).locator(".text").textContent();
      expect(aliceText).toContain("offline model");
      expect(await lastReply(bob).locator(".text").textContent()).toBe(aliceText);
      expect(await lastReply(alice).getAttribute("data-message-id")).toBe(await lastReply(bob).getAttribute("data-message-id"));
      // Shift+Enter is a new line, not a send.
      const box = alice.getByRole("textbox", { name: "Message" });
      await box.fill("line one");
      await box.press("Shift+Enter");
      await box.type("line two");
      expect(await box.inputValue()).toBe("line one\nline two");
    } finally {
      await close(alice, bob);
    }
  });

  it("shows a tool call by name with its phase, and the calculator's answer", async () => {
    const page = await openRoom(serverUrl, "web-tool", "toolie");
    try {
      await send(page, "calculate 17*23");
      const reply = lastReply(page);
      await expect.poll(() => reply.getAttribute("data-state"), { timeout: 20_000 }).toBe("completed");
      const tool = reply.locator('.tool[data-tool="calculator"]');
      expect(await tool.locator(".tool-name").textContent()).toBe("calculator");
      expect(await tool.getAttribute("data-phase")).toBe("completed");
      expect(await reply.locator(".text").textContent()).toContain("391");
      expect(await page.locator("#status-text").textContent()).toBe("completed");

      // A reply that fails shows as failed, with its error, in the message and the status.
      await send(page, "please #fail now");
      await expect.poll(() => lastReply(page).getAttribute("data-state"), { timeout: 20_000 }).toBe("failed");
      expect(await lastReply(page).locator(".error").textContent()).toContain("#fail");
      expect(await page.locator("#status-text").textContent()).toMatch(/^failed: .*#fail/);
    } finally {
      await close(page);
    }
  });

  it("shows HTML in a message literally and never runs it", async () => {
    const page = await openRoom(serverUrl, "web-html", "mallory");
    const ran: string[] = [];
    page.on("dialog", (d) => ran.push(d.message()));
    await page.exposeFunction("__pwned", (v: string) => ran.push(v));
    try {
      const html = `<img src=x onerror=alert(1)><script>window.__pwned("script")</script> **bold** [x](javascript:alert(2))`;
      await send(page, html);
      const mine = log(page).locator('[data-role="user"]').last();
      await expect.poll(() => mine.locator(".text").textContent()).toBe(html);
      await expect.poll(() => lastReply(page).getAttribute("data-state"), { timeout: 20_000 }).toBe("completed");
      expect(await log(page).locator("img, script, a[href^='javascript']").count()).toBe(0);
      expect(await mine.locator("strong").count()).toBe(0);
      expect(ran).toEqual([]);
    } finally {
      await close(page);
    }
  });

  it("shows the history with each reply's state after a reload (over MessagePack)", async () => {
    const page = await openRoom(serverUrl, "web-history", "historian", { protocol: "messagepack" });
    try {
      await send(page, "first question");
      await expect.poll(() => lastReply(page).getAttribute("data-state"), { timeout: 20_000 }).toBe("completed");
      await page.reload();
      expect(new URL(page.url()).searchParams.get("protocol")).toBe("messagepack");
      await expect.poll(() => page.locator("#connection").textContent(), { timeout: 20_000 }).toBe("connected");
      await expect.poll(() => log(page).locator("[data-message-id]").count()).toBe(2);
      expect(await log(page).locator('[data-role="user"] .text').textContent()).toBe("first question");
      expect(await lastReply(page).getAttribute("data-state")).toBe("completed");
      expect(await lastReply(page).locator(".text").textContent()).toContain("offline model");
    } finally {
      await close(page);
    }
  });
});

describe("the chat page's credentials", () => {
  it("opens its WebSocket with a single-use ticket in the URL, never the session token", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const sockets: string[] = [];
    const ticketRequests: string[] = [];
    page.on("websocket", (socket) => sockets.push(socket.url()));
    page.on("request", (request) => {
      if (request.url().endsWith("/api/auth/ticket")) {
        ticketRequests.push(request.method());
      }
    });
    try {
      await page.goto(`${serverUrl}/?room=web-ticket&name=tess`);
      await expect.poll(() => page.locator("#connection").textContent(), { timeout: 20_000 }).toBe("connected");
      expect(ticketRequests).toEqual(["POST"]);
      expect(sockets).toHaveLength(1);
      const credential = new URL(sockets[0] ?? "").searchParams.get("access_token") ?? "";
      const claims = JSON.parse(Buffer.from(credential.split(".")[1] ?? "", "base64url").toString()) as { aud: string };
      expect(claims.aud).toMatch(/:ticket$/);

      // Lifted from the URL (a proxy's log), it is worth nothing: it was used.
      const spent = await fetch(`${serverUrl}/api/rooms/web-ticket/events?access_token=${encodeURIComponent(credential)}`);
      expect(spent.status).toBe(401);
      expect(((await spent.json()) as { error: string }).error).toContain("the ticket was used already");
    } finally {
      await context.close();
    }
  });
});

describe("the chat page's compact token frames", () => {
  it.each(["json", "messagepack"] as const)("asks for tokens=compact and renders the reply as the contract's token events tell it (%s)", async (protocol) => {
    const room = `web-compact-${protocol}`;
    // A member on the contract's shape, for the reference text.
    const reference = new ChatClient({ serverUrl, accessToken: (await signInAsGuest(serverUrl, `ref-${protocol}`)).token });
    await reference.start();
    const deltas: string[] = [];
    reference.on("token", (token) => deltas.push(token.text));
    await reference.joinRoom(room);

    const context = await browser.newContext({ viewport: { width: 1000, height: 720 } });
    const page = await context.newPage();
    const hubUrls: string[] = [];
    const frames: (string | Buffer)[] = [];
    page.on("websocket", (socket) => {
      hubUrls.push(socket.url());
      socket.on("framereceived", (frame) => frames.push(frame.payload));
    });
    try {
      await page.goto(`${serverUrl}/?room=${room}&name=compact-${protocol}${protocol === "messagepack" ? "&protocol=messagepack" : ""}`);
      await expect.poll(() => page.locator("#connection").textContent(), { timeout: 20_000 }).toBe("connected");
      await page.locator("#chat:not([hidden])").waitFor();
      await send(page, "hello in compact frames");
      await expect.poll(() => lastReply(page).getAttribute("data-state"), { timeout: 20_000 }).toBe("completed");

      const messageId = await lastReply(page).getAttribute("data-message-id");
      const stored = (await reference.getHistory(room)).messages.find((m) => m.messageId === messageId);
      expect(stored?.state).toBe("completed");
      // The page renders the reply as Markdown, which drops the trailing space of the last delta.
      expect((await lastReply(page).locator(".text").textContent())?.trimEnd()).toBe(stored?.text.trimEnd());
      expect(deltas.join("")).toBe(stored?.text);

      expect(hubUrls.some((url) => url.includes("/hubs/chat") && url.includes("tokens=compact"))).toBe(true);
      if (protocol === "json") {
        const records = frames.filter((f): f is string => typeof f === "string").flatMap((f) => f.split("\u001e")).filter((r) => r.length > 0);
        const invocations = records.map((r) => JSON.parse(r) as { type: number; target?: string; arguments?: unknown[] }).filter((m) => m.type === 1);
        const compact = invocations.filter((m) => m.target === "t" || m.target === "tr");
        expect(compact.length).toBeGreaterThan(0);
        expect(invocations.some((m) => m.target === "token")).toBe(false);
        expect(compact.map((m) => m.arguments?.[2]).join("")).toBe(stored?.text);
      } else {
        // MessagePack: no frame names the contract's `token` (fixstr "token"); the reply still rendered whole.
        const contractTarget = Buffer.from([0xa5, ...Buffer.from("token")]);
        expect(frames.some((f) => typeof f !== "string" && f.includes(contractTarget))).toBe(false);
      }
    } finally {
      await context.close();
      await reference.close();
    }
  });
});

describe("the chat page's room picker and bad input", () => {
  it("switches rooms from the picker and updates the link to share", async () => {
    const page = await openRoom(serverUrl, "web-first", "walker");
    try {
      await send(page, "in the first room");
      await expect.poll(() => lastReply(page).getAttribute("data-state"), { timeout: 20_000 }).toBe("completed");
      await page.getByRole("textbox", { name: "Room" }).fill("web-second");
      await page.getByRole("button", { name: "Go" }).click();
      await expect.poll(() => new URL(page.url()).searchParams.get("room")).toBe("web-second");
      expect(await log(page).locator("[data-message-id]").count()).toBe(0);
      expect(await page.locator("#share-link").getAttribute("href")).toBe(`${serverUrl}/?room=web-second`);
      await send(page, "in the second room");
      await expect.poll(() => lastReply(page).getAttribute("data-state"), { timeout: 20_000 }).toBe("completed");

      // Looking at more rooms one after another than a connection may be in at once (Chat:Limits:MaxRoomsPerConnection, 50):
      // the page closes each room it leaves the screen of, so the next one always opens.
      for (let i = 0; i < 52; i++) {
        await page.getByRole("textbox", { name: "Room" }).fill(`web-walk-${i}`);
        await page.getByRole("button", { name: "Go" }).click();
        await expect.poll(() => new URL(page.url()).searchParams.get("room")).toBe(`web-walk-${i}`);
      }
      expect(await page.locator("#error").textContent()).toBe("");
      await send(page, "after a long walk");
      await expect.poll(() => lastReply(page).getAttribute("data-state"), { timeout: 20_000 }).toBe("completed");
    } finally {
      await close(page);
    }
  });

  it("lists the person's rooms with a preview and an unread badge that opening the room clears", async () => {
    const bob = await openRoom(serverUrl, "web-list-a", "bobby");
    const alice = await openRoom(serverUrl, "web-list-b", "alicia");
    try {
      // People talk here without the assistant, so the room's last message stays the one alicia sends below.
      await bob.getByLabel("Assistant answers").selectOption("mentioned");
      await bob.getByRole("button", { name: "Save settings" }).click();
      await expect.poll(() => bob.locator("#announcer").textContent()).toContain("changed the room's settings");
      await bob.getByRole("textbox", { name: "Room" }).fill("web-list-c");
      await bob.getByRole("button", { name: "Go" }).click();
      await expect.poll(() => new URL(bob.url()).searchParams.get("room")).toBe("web-list-c");
      const rooms = bob.getByRole("navigation", { name: "Your rooms" });
      await expect.poll(() => rooms.locator("li").evaluateAll((items) => items.map((li) => (li as HTMLElement).dataset["roomId"]).sort())).toEqual(["web-list-a", "web-list-c"]);

      await alice.getByRole("textbox", { name: "Room" }).fill("web-list-a");
      await alice.getByRole("button", { name: "Go" }).click();
      await send(alice, "bobby, are you there?");
      const entry = rooms.locator('li[data-room-id="web-list-a"]');
      await expect.poll(() => entry.locator(".preview").textContent(), { timeout: 20_000 }).toContain("alicia: bobby, are you there?");
      await expect.poll(() => entry.locator(".unread").isVisible()).toBe(true);
      expect(Number(await entry.locator(".unread").textContent())).toBeGreaterThanOrEqual(1);
      expect(await rooms.locator("li").first().getAttribute("data-room-id")).toBe("web-list-a");

      await entry.getByRole("link").click();
      await expect.poll(() => new URL(bob.url()).searchParams.get("room")).toBe("web-list-a");
      await expect.poll(() => log(bob).locator('[data-role="user"]').last().locator(".text").textContent()).toBe("bobby, are you there?");
      await expect.poll(() => entry.locator(".unread").isVisible()).toBe(false);
    } finally {
      await close(bob, alice);
    }
  });

  it("answers a bad room link and an over-long message with a clear error, and stays usable", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(`${serverUrl}/?room=no%20spaces&name=bad`);
      await expect.poll(() => page.getByRole("alert").textContent()).toContain("A room name has 1 to 64 letters");
      expect(await page.locator("#signin").isVisible()).toBe(true);

      await page.getByRole("textbox", { name: "Room" }).fill("web-bad-input");
      await page.getByRole("button", { name: "Join" }).click();
      await expect.poll(() => page.locator("#connection").textContent(), { timeout: 20_000 }).toBe("connected");
      const tooLong = "x".repeat(16_001);
      await page.getByRole("textbox", { name: "Message" }).fill(tooLong);
      await page.getByRole("button", { name: "Send" }).click();
      await expect.poll(() => page.getByRole("alert").textContent()).toMatch(/16000/);
      expect(await page.getByRole("textbox", { name: "Message" }).inputValue()).toBe(tooLong);
      expect(await page.locator("#connection").textContent()).toBe("connected");
      await send(page, "a short one");
      await expect.poll(() => lastReply(page).getAttribute("data-state"), { timeout: 20_000 }).toBe("completed");
      expect(await page.locator("#error").textContent()).toBe("");
    } finally {
      await context.close();
    }
  });
});

describe("the chat page with long replies", () => {
  let url = "";
  let stopServer: () => Promise<void> = () => Promise.resolve();
  beforeAll(async () => {
    const server = await startServer({ "Chat:Offline:TokenDelayMs": "40", "Chat:Offline:ReplyTokens": "300" });
    url = server.url;
    stopServer = () => server.stop();
  });
  afterAll(() => stopServer());

  it("Stop on one page stops the reply on both, keeping the partial text", async () => {
    const alice = await openRoom(url, "web-stop", "alice");
    const bob = await openRoom(url, "web-stop", "bob");
    try {
      await send(alice, "tell me a long story");
      await expect.poll(() => lastReply(bob).getAttribute("data-state"), { timeout: 20_000 }).toBe("generating");
      await expect.poll(async () => ((await lastReply(bob).locator(".text").textContent()) ?? "").length, { timeout: 20_000 }).toBeGreaterThan(40);
      await expect.poll(() => bob.getByRole("button", { name: "Stop" }).isEnabled()).toBe(true);
      await bob.getByRole("button", { name: "Stop" }).click();
      for (const page of [alice, bob]) {
        await expect.poll(() => lastReply(page).getAttribute("data-state"), { timeout: 20_000 }).toBe("cancelled");
        await expect.poll(() => page.getByRole("button", { name: "Stop" }).isDisabled()).toBe(true);
      }
      const partial = (await lastReply(alice).locator(".text").textContent()) ?? "";
      expect(partial.length).toBeGreaterThan(40);
      expect(partial).toContain("offline model");
      expect(await lastReply(bob).locator(".text").textContent()).toBe(partial);
      expect(await alice.locator("#status-text").textContent()).toBe("cancelled");
    } finally {
      await close(alice, bob);
    }
  });

  it("Escape in the message box stops the reply", async () => {
    const page = await openRoom(url, "web-escape", "escaper", { width: 380, dark: true });
    try {
      await send(page, "another long story");
      await expect.poll(() => page.getByRole("button", { name: "Stop" }).isEnabled(), { timeout: 20_000 }).toBe(true);
      await page.getByRole("textbox", { name: "Message" }).press("Escape");
      await expect.poll(() => lastReply(page).getAttribute("data-state"), { timeout: 20_000 }).toBe("cancelled");
      // Readable at phone width: nothing wider than the screen.
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(380);
    } finally {
      await close(page);
    }
  });

  it("looks right with two members, a tool call and a reply streaming (the README's screenshot)", async () => {
    const alice = await openRoom(url, "demo", "alice", { width: 900 });
    const bob = await openRoom(url, "demo", "bob");
    try {
      await send(bob, "Hi! Please calculate 17*23");
      await expect.poll(() => lastReply(alice).getAttribute("data-state"), { timeout: 20_000 }).toBe("completed");
      await send(alice, "Thanks! And a short note for the team?");
      await expect.poll(async () => ((await lastReply(alice).locator(".text").textContent()) ?? "").length, { timeout: 20_000 }).toBeGreaterThan(120);
      expect(await lastReply(alice).getAttribute("data-state")).toBe("generating");
      await alice.getByRole("textbox", { name: "Message" }).fill("Looks good to me");
      await mkdir(screenshotDir, { recursive: true });
      await alice.screenshot({ path: join(screenshotDir, "screenshot.png") });
      await alice.getByRole("button", { name: "Stop" }).click();
      await expect.poll(() => lastReply(alice).getAttribute("data-state"), { timeout: 20_000 }).toBe("cancelled");
    } finally {
      await close(alice, bob);
    }
  });
});

describe("the chat page across a server restart", () => {
  it("shows reconnecting, then catches up by itself and shows another member's message and its reply", async () => {
    const port = await freePort();
    const settings = { "Chat:Auth:SigningKey": "a-browser-test-signing-key-long-enough-0123456789" };
    let server = await startServer(settings, 60_000, port);
    const page = await openRoom(server.url, "web-restart", "phoenix");
    try {
      await send(page, "before the restart");
      await expect.poll(() => lastReply(page).getAttribute("data-state"), { timeout: 20_000 }).toBe("completed");

      await server.kill();
      await expect.poll(() => page.locator("#connection").textContent(), { timeout: 20_000 }).toBe("reconnecting");
      server = await startServer(settings, 60_000, port);
      await expect.poll(() => page.locator("#connection").textContent(), { timeout: 30_000 }).toBe("connected");
      // The restarted server kept nothing (in-memory state): the page shows the room as it is now and works on.
      await expect.poll(() => log(page).locator("[data-message-id]").count(), { timeout: 20_000 }).toBe(0);
      expect(await page.locator("#member-list li").allTextContents()).toEqual(["phoenix (you)"]);
      await send(page, "after the restart");
      await expect.poll(() => log(page).locator('[data-role="user"] .text').last().textContent(), { timeout: 20_000 }).toBe("after the restart");
      await expect.poll(() => lastReply(page).getAttribute("data-state"), { timeout: 20_000 }).toBe("completed");

      // Another member joins the room on the restarted server: the page shows their message and the reply to it.
      const other = new ChatClient({ serverUrl: server.url, accessToken: (await signInAsGuest(server.url, "ember")).token });
      await other.start();
      try {
        await other.joinRoom("web-restart");
        const reply = await other.ask("web-restart", "from another member after the restart");
        expect((await reply.completion).state).toBe("completed");
        await expect.poll(() => log(page).locator('[data-role="user"] .text').last().textContent(), { timeout: 20_000 }).toBe("from another member after the restart");
        await expect.poll(() => lastReply(page).getAttribute("data-state"), { timeout: 20_000 }).toBe("completed");
      } finally {
        await other.close();
      }
    } finally {
      await close(page);
      await server.stop();
    }
  });
});
