import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const serverUrl = inject("serverUrl");
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

describe("the chat page", () => {
  it("joins from a shared link, streams a reply in place, and shows it as completed", async () => {
    const page = await browser.newPage();
    await page.goto(`${serverUrl}/?room=web-lobby&name=webby`);
    await expect.poll(() => page.locator("#connection").textContent()).toBe("connected");

    await page.getByRole("textbox", { name: "Message" }).fill("hello from the browser");
    await page.getByRole("button", { name: "Send" }).click();

    const reply = page.locator('[role="log"] [data-role="assistant"]').first();
    await reply.waitFor();
    await expect.poll(() => reply.getAttribute("data-state"), { timeout: 20_000 }).toBe("completed");
    expect(await reply.locator(".text").textContent()).toContain("offline model");
    await expect.poll(() => page.locator('[role="log"] [data-role="user"]').first().locator(".text").textContent()).toBe("hello from the browser");
    await page.close();
  });
});
