import { defineConfig } from "vitest/config";

// Browser suite: real Chromium (Debian's /usr/bin/chromium) driven by playwright-core against the real server.
export default defineConfig({
  test: {
    include: ["test-browser/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 90_000,
    fileParallelism: false,
  },
});
