import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { LogLevel } from "@microsoft/signalr";
import { ChatClient, signInAsGuest } from "../src/client";
import { freePort, startServer } from "../test/server";

// Working together on the page: who stopped a reply, typing, approvals, regenerate, settings.
let browser: Browser;
let url = "";
let stopServer: () => Promise<void> = async () => undefined;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const server = await startServer({ "Chat:Offline:TokenDelayMs": "40", "Chat:Offline:ReplyTokens": "300" });
  url = server.url;
  stopServer = () => server.stop();
});

afterAll(async () => {
  await browser?.close();
  await stopServer();
});

async function openRoom(room: string, name: string, before?: (page: Page) => void, at = url): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 720 } });
  const page = await context.newPage();
  before?.(page);
  await page.goto(`${at}/?room=${room}&name=${name}`);
  await expect.poll(() => page.locator("#connection").textContent(), { timeout: 20_000 }).toBe("connected");
  await page.locator("#chat:not([hidden])").waitFor();
  return page;
}

async function send(page: Page, text: string): Promise<void> {
  await page.getByRole("textbox", { name: "Message" }).fill(text);
  await page.getByRole("textbox", { name: "Message" }).press("Enter");
}

const lastReply = (page: Page) => page.getByRole("log").locator('[data-role="assistant"]:not([hidden])').last();

async function close(...pages: Page[]): Promise<void> {
  await Promise.all(pages.map((p) => p.context().close()));
}

describe("working together on the page", () => {
  it("bob stops alice's reply and alice's page says it was stopped by bob", async () => {
    const alice = await openRoom("web-stopped-by", "alice");
    const bob = await openRoom("web-stopped-by", "bob");
    try {
      await send(alice, "tell me a long story");
      await expect.poll(() => lastReply(bob).getAttribute("data-state"), { timeout: 20_000 }).toBe("generating");
      await expect.poll(() => bob.getByRole("button", { name: "Stop" }).isEnabled()).toBe(true);
      await bob.getByRole("button", { name: "Stop" }).click();
      await expect.poll(() => lastReply(alice).getAttribute("data-state"), { timeout: 20_000 }).toBe("cancelled");
      await expect.poll(() => lastReply(alice).locator(".note").textContent()).toBe("stopped by bob");
      // After a reload the history still says who stopped it.
      await alice.reload();
      await expect.poll(() => lastReply(alice).locator(".note").textContent(), { timeout: 20_000 }).toBe("stopped by bob");
    } finally {
      await close(alice, bob);
    }
  });

  it("shows who is typing to the other member, and clears it when her message arrives", async () => {
    const alice = await openRoom("web-typing", "alice");
    const bob = await openRoom("web-typing", "bob");
    try {
      await expect.poll(() => alice.locator("#member-list li").count()).toBe(2);
      await alice.getByRole("textbox", { name: "Message" }).pressSequentially("hello th");
      await expect.poll(() => bob.locator("#typing").textContent(), { timeout: 10_000 }).toBe("alice is typing…");
      expect(await alice.locator("#typing").textContent()).toBe("");
      await alice.getByRole("textbox", { name: "Message" }).press("Enter");
      await expect.poll(() => bob.locator("#typing").textContent(), { timeout: 10_000 }).toBe("");
    } finally {
      await close(alice, bob);
    }
  });

  it("tells the room at most once every few seconds while one types, and forgets a typist who stopped", async () => {
    // Every Typing invocation the page sends, as the server receives it.
    let typingSent = 0;
    const alice = await openRoom("web-typing-quiet", "alice", (page) =>
      page.on("websocket", (socket) =>
        socket.on("framesent", (frame) => {
          const payload = typeof frame.payload === "string" ? frame.payload : frame.payload.toString("latin1");
          typingSent += payload.split('"target":"Typing"').length - 1;
        }),
      ),
    );
    const bob = await openRoom("web-typing-quiet", "bob");
    try {
      await expect.poll(() => alice.locator("#member-list li").count()).toBe(2);
      const text = "hello bob, are you coming to lunch today?";
      const started = Date.now();
      await alice.getByRole("textbox", { name: "Message" }).pressSequentially(text);
      const elapsed = Date.now() - started;
      await expect.poll(() => bob.locator("#typing").textContent(), { timeout: 10_000 }).toBe("alice is typing…");
      // One keystroke each would be one Typing a character; the page sends one, then at most one every 2.5 s.
      expect(typingSent).toBeGreaterThanOrEqual(1);
      expect(typingSent).toBeLessThanOrEqual(1 + Math.floor(elapsed / 2500));
      expect(typingSent).toBeLessThan(text.length);
      // Alice stops typing and sends nothing: a few seconds later bob's page no longer says she types.
      await expect.poll(() => bob.locator("#typing").textContent(), { timeout: 15_000 }).toBe("");
      expect(await bob.getByRole("log").locator('[data-role="user"]').count()).toBe(0);
    } finally {
      await close(alice, bob);
    }
  });

  it("completes @assistant, and in a mentioned room only a mention gets a reply", async () => {
    const page = await openRoom("web-mention", "carol");
    try {
      await page.getByLabel("Assistant answers").selectOption("mentioned");
      await page.getByRole("button", { name: "Save settings" }).click();
      await expect.poll(() => page.locator("#announcer").textContent()).toContain("changed the room's settings");
      await send(page, "just a note to myself");
      await expect.poll(() => page.getByRole("log").locator('[data-role="user"]').count()).toBe(1);
      const box = page.getByRole("textbox", { name: "Message" });
      await box.pressSequentially("@ass");
      await expect.poll(() => page.getByRole("listbox", { name: "Mentions" }).isVisible()).toBe(true);
      await box.press("Tab");
      expect(await box.inputValue()).toBe("@assistant ");
      await box.pressSequentially("please calculate 2*21");
      await box.press("Enter");
      await expect.poll(() => lastReply(page).getAttribute("data-state"), { timeout: 20_000 }).toBe("completed");
      expect(await page.getByRole("log").locator('[data-role="assistant"]').count()).toBe(1);
      expect(await page.getByRole("log").locator('[data-role="user"]').count()).toBe(2);
    } finally {
      await close(page);
    }
  });

  it("shows Approve and Deny on a pending tool call to every member, then who decided, and the new topic", async () => {
    const alice = await openRoom("web-approve", "alice");
    const bob = await openRoom("web-approve", "bob");
    try {
      await send(alice, "please set the topic to Friday lunch");
      const approval = (page: Page) => lastReply(page).locator(".approval");
      for (const page of [alice, bob]) {
        await expect.poll(() => approval(page).getAttribute("data-state"), { timeout: 20_000 }).toBe("pending");
        await expect.poll(() => approval(page).getByRole("button", { name: "Approve" }).isVisible()).toBe(true);
        expect(await approval(page).getByRole("button", { name: "Deny" }).isVisible()).toBe(true);
      }
      await approval(bob).getByRole("button", { name: "Approve" }).click();
      for (const page of [alice, bob]) {
        await expect.poll(() => approval(page).locator(".approval-state").textContent(), { timeout: 20_000 }).toBe("approved by bob");
        await expect.poll(() => page.locator("#topic").textContent(), { timeout: 20_000 }).toBe("Topic: Friday lunch");
        await expect.poll(() => lastReply(page).getAttribute("data-state"), { timeout: 20_000 }).toBe("completed");
      }
      expect(await approval(alice).getByRole("button", { name: "Approve" }).isVisible()).toBe(false);
    } finally {
      await close(alice, bob);
    }
  });

  it("shows a call that waits to a member who opens the room meanwhile, who approves it", async () => {
    const alice = await openRoom("web-approve-late", "alice");
    try {
      await send(alice, "please set the topic to Late lunch");
      const approval = (page: Page) => lastReply(page).locator(".approval");
      await expect.poll(() => approval(alice).getAttribute("data-state"), { timeout: 20_000 }).toBe("pending");
      const bob = await openRoom("web-approve-late", "bob");
      try {
        await expect.poll(() => approval(bob).getAttribute("data-state"), { timeout: 20_000 }).toBe("pending");
        expect(await approval(bob).locator(".approval-state").textContent()).toBe("waits for approval");
        await approval(bob).getByRole("button", { name: "Approve" }).click();
        for (const page of [alice, bob]) {
          await expect.poll(() => approval(page).locator(".approval-state").textContent(), { timeout: 20_000 }).toBe("approved by bob");
          await expect.poll(() => page.locator("#topic").textContent(), { timeout: 20_000 }).toBe("Topic: Late lunch");
          await expect.poll(() => lastReply(page).getAttribute("data-state"), { timeout: 20_000 }).toBe("completed");
        }
      } finally {
        await close(bob);
      }
    } finally {
      await close(alice);
    }
  });

  it("regenerates a finished reply and flips between its versions", async () => {
    const page = await openRoom("web-regenerate", "dave");
    try {
      await send(page, "please calculate 6*7");
      await expect.poll(() => lastReply(page).getAttribute("data-state"), { timeout: 20_000 }).toBe("completed");
      const firstId = await lastReply(page).getAttribute("data-message-id");
      await lastReply(page).getByRole("button", { name: "Regenerate" }).click();
      await expect.poll(async () => (await lastReply(page).getAttribute("data-message-id")) !== firstId, { timeout: 20_000 }).toBe(true);
      await expect.poll(() => lastReply(page).getAttribute("data-state"), { timeout: 20_000 }).toBe("completed");
      expect(await lastReply(page).locator(".version-label").textContent()).toBe("version 2 of 2");
      await lastReply(page).getByRole("button", { name: "Previous version" }).click();
      expect(await lastReply(page).getAttribute("data-message-id")).toBe(firstId);
      expect(await lastReply(page).locator(".version-label").textContent()).toBe("version 1 of 2");
      // Both versions stay in the conversation; one is shown at a time.
      expect(await page.getByRole("log").locator('[data-role="assistant"]').count()).toBe(2);
    } finally {
      await close(page);
    }
  });
});

/** A real redis-server on a free loopback port, for two nodes of one room. */
async function startRedis(): Promise<{ address: string; stop: () => void }> {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: ["ignore", "pipe", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 20_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("Ready to accept connections")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}:\n${output}`));
    });
  });
  return { address: `127.0.0.1:${port}`, stop: () => child.kill("SIGKILL") };
}

describe("on the page, replies no member ended", () => {
  it("shows a call nobody decided as expired, and a reply stopped by its node's shutdown as such", async () => {
    const redis = await startRedis();
    const settings = {
      "ConnectionStrings:Redis": redis.address,
      "Chat:Auth:SigningKey": "a-shared-signing-key-of-more-than-32-bytes",
      "Chat:Tools:ApprovalTimeout": "00:00:02",
      "Chat:Offline:TokenDelayMs": "20",
      "Chat:Offline:ReplyTokens": "3000",
    };
    const staying = await startServer(settings);
    const leaving = await startServer(settings);
    const page = await openRoom("web-unattended", "bob", undefined, staying.url);
    try {
      // Nobody approves within Chat:Tools:ApprovalTimeout: the page shows the call expired, and the reply goes on without it.
      await send(page, "please set the topic to Nobody decides");
      const approval = lastReply(page).locator(".approval");
      await expect.poll(() => approval.getAttribute("data-state"), { timeout: 20_000 }).toBe("pending");
      await expect.poll(() => approval.getAttribute("data-state"), { timeout: 20_000 }).toBe("expired");
      expect(await approval.locator(".approval-state").textContent()).toBe("expired: nobody decided in time");
      expect(await approval.getByRole("button", { name: "Approve" }).isVisible()).toBe(false);
      await expect.poll(() => lastReply(page).getAttribute("data-state"), { timeout: 20_000 }).toBe("completed");
      expect(await page.locator("#topic").isVisible()).toBe(false);

      // Alice asks on the other node; that node shuts down mid-reply, and bob's page says why the reply stopped.
      const session = await signInAsGuest(leaving.url, "alice");
      const alice = new ChatClient({ serverUrl: leaving.url, accessToken: session.token, logLevel: LogLevel.None });
      await alice.start();
      await alice.joinRoom("web-unattended");
      await alice.sendMessage("web-unattended", "tell me a long story");
      await expect.poll(() => lastReply(page).getAttribute("data-state"), { timeout: 20_000 }).toBe("generating");
      await expect.poll(async () => ((await lastReply(page).locator(".text").textContent()) ?? "").length, { timeout: 20_000 }).toBeGreaterThan(0);
      await leaving.stop();
      await expect.poll(() => lastReply(page).getAttribute("data-state"), { timeout: 30_000 }).toBe("cancelled");
      expect(await lastReply(page).locator(".note").textContent()).toBe("stopped: the server shut down");
      await alice.close().catch(() => undefined);
    } finally {
      await close(page);
      await leaving.stop();
      await staying.stop();
      redis.stop();
    }
  });
});
