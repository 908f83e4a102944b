import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "../test/server";

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

async function openRoom(room: string, name: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 720 } });
  const page = await context.newPage();
  await page.goto(`${url}/?room=${room}&name=${name}`);
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
