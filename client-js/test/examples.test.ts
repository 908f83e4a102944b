// The two runnable examples (examples/agui.ts, examples/ai-sdk.ts), bundled as their comments say
// and run with node against a real server, as someone trying them would.
import { build } from "esbuild";
import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { SendMessageResult, StatusEvent, TokenEvent } from "../src/contract";
import { connectStock, signIn } from "./helpers";
import { startServer, type RunningServer } from "./server";

const serverUrl = inject("serverUrl");
const clientRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
// Inside client-js, so that the bundles' external packages resolve from its node_modules.
const outDir = join(clientRoot, "dist", "examples-test");

interface Run {
  child: ChildProcess;
  output: () => string;
  waitForOutput: (match: RegExp, timeoutMs?: number) => Promise<string>;
  exited: Promise<number | null>;
}

function runExample(name: string, args: string[]): Run {
  const child = spawn(process.execPath, [join(outDir, `${name}.mjs`), ...args], { cwd: clientRoot, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const waiters: { match: RegExp; resolve: (text: string) => void }[] = [];
  const onData = (chunk: Buffer): void => {
    output += chunk.toString("utf8");
    for (let i = waiters.length - 1; i >= 0; i--) {
      const waiter = waiters[i];
      if (waiter && waiter.match.test(output)) {
        waiters.splice(i, 1);
        waiter.resolve(output);
      }
    }
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    waitForOutput: (match, timeoutMs = 20_000) =>
      match.test(output)
        ? Promise.resolve(output)
        : new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`the example did not print ${match}; it printed:\n${output}`)), timeoutMs);
          waiters.push({ match, resolve: (text) => { clearTimeout(timer); resolve(text); } });
        }),
  };
}

async function finish(run: Run, timeoutMs = 30_000): Promise<{ code: number | null; output: string }> {
  const timer = setTimeout(() => run.child.kill("SIGKILL"), timeoutMs);
  try {
    const code = await run.exited;
    return { code, output: run.output() };
  } finally {
    clearTimeout(timer);
  }
}

beforeAll(async () => {
  await build({
    entryPoints: [join(clientRoot, "examples", "agui.ts"), join(clientRoot, "examples", "ai-sdk.ts")],
    bundle: true, platform: "node", format: "esm", packages: "external", outdir: outDir, outExtension: { ".js": ".mjs" }, logLevel: "error",
  });
});

describe("the examples, run against a server", () => {
  it("examples/agui.ts prints the reply's tool call, its result, its text and how the run finished", async () => {
    const { code, output } = await finish(runExample("agui", [serverUrl, "example-agui", "calculate 17*23"]));
    expect({ code, output }).toMatchObject({ code: 0 });
    expect(output).toMatch(/\[run g-\S+ in example-agui\]/);
    expect(output).toContain('[tool calculator {"expression":"17*23"}]');
    expect(output).toContain('[result "391"]');
    expect(output).toContain("391");
    expect(output).toContain("[finished: success]");
  });

  it("examples/ai-sdk.ts prints the reply's text and its tool part, and --resume says when nothing runs", async () => {
    const sent = await finish(runExample("ai-sdk", [serverUrl, "example-ai-sdk", "calculate 17*23"]));
    expect({ code: sent.code, output: sent.output }).toMatchObject({ code: 0 });
    expect(sent.output).toContain('[tool-calculator {"expression":"17*23"} → "391"]');
    expect(sent.output).toMatch(/\[message m-\S+\]/);

    const idle = await finish(runExample("ai-sdk", [serverUrl, "example-ai-sdk", "--resume"]));
    expect({ code: idle.code, output: idle.output }).toMatchObject({ code: 0 });
    expect(idle.output).toContain("no reply is running in example-ai-sdk");
  });

  describe("with a slow model", () => {
    let slow: RunningServer;
    beforeAll(async () => {
      slow = await startServer({ "Chat:Offline:TokenDelayMs": "30", "Chat:Offline:ReplyTokens": "400" });
    });
    afterAll(async () => {
      await slow?.stop();
    });

    it("Ctrl+C in examples/agui.ts stops the reply for the room", async () => {
      const room = "example-agui-stop";
      const bob = await connectStock(slow.url, (await signIn(slow.url, "example-stop-bob")).token);
      try {
        await bob.connection.invoke("JoinRoom", room);
        const run = runExample("agui", [slow.url, room, "a long answer please"]);
        const printed = await run.waitForOutput(/\[run (g-\S+) in [^\]]+\]\n.{20}/);
        const runId = /\[run (g-\S+) in/.exec(printed)?.[1] ?? "";
        run.child.kill("SIGINT");
        const seen = await bob.waitFor((r) => r.name === "status" && (r.event as StatusEvent).generationId === runId && ["completed", "cancelled", "failed"].includes((r.event as StatusEvent).state));
        expect((seen.event as StatusEvent).state).toBe("cancelled");
        expect((seen.event as StatusEvent & { cancelledBy?: { name: string } }).cancelledBy?.name).toBe("agui-example");
        await finish(run);
      } finally {
        await bob.connection.stop();
      }
    });

    it("examples/ai-sdk.ts --resume picks up a running reply and prints all of it", async () => {
      const room = "example-ai-sdk-resume";
      const bob = await connectStock(slow.url, (await signIn(slow.url, "example-resume-bob")).token);
      try {
        await bob.connection.invoke("JoinRoom", room);
        const sent = await bob.connection.invoke<SendMessageResult>("SendMessage", room, "a long answer please");
        await bob.waitFor((r) => r.name === "token" && (r.event as TokenEvent).generationId === sent.generationId);
        const { code, output } = await finish(runExample("ai-sdk", [slow.url, room, "--resume"]), 60_000);
        const final = bob.events.find((r) => r.name === "status" && (r.event as StatusEvent).generationId === sent.generationId && (r.event as StatusEvent).state === "completed")?.event as StatusEvent | undefined;
        expect({ code, completed: final !== undefined }).toEqual({ code: 0, completed: true });
        expect(output).toContain(final?.text ?? "?");
        expect(output).toContain(`[message ${final?.messageId}]`);
      } finally {
        await bob.connection.stop();
      }
    }, 90_000);
  });
});
