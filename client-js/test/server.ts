// Starts the real chat server (the built SignalRChat.Server.dll) on a free loopback port.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const serverProject = join(root, "src", "SignalRChat.Server");
const serverDll = join(serverProject, "bin", "Debug", "net10.0", "SignalRChat.Server.dll");

export interface RunningServer {
  url: string;
  process: ChildProcess;
  output: string[];
  /** Asks the server to shut down (SIGTERM); one that has not exited after 10 s is killed. */
  stop(): Promise<void>;
  /** Kills the server at once, as a crash would. */
  kill(): Promise<void>;
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

/** A loopback port that is free now, for a server that has to come back on the same port. */
export function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export async function startServer(settings: Record<string, string> = {}, timeoutMs = 60_000, port = 0): Promise<RunningServer> {
  if (!existsSync(serverDll)) {
    throw new Error(`${serverDll} is missing: run 'dotnet build' first (./test.sh does)`);
  }

  // No drain time on shutdown (a reply a test leaves running is stopped at once), and the record in memory (no test writes a database file under the server project).
  const defaults: Record<string, string> = { "Chat:Offline:TokenDelayMs": "5", "Chat:Offline:ReplyTokens": "20", "Chat:Generation:DrainTime": "00:00:00", "Chat:Storage:Provider": "Memory" };
  const args = [serverDll, "--urls", `http://127.0.0.1:${port}`, "--environment", "Development", "--contentRoot", serverProject];
  for (const [key, value] of Object.entries({ ...defaults, ...settings })) {
    args.push(`--${key}=${value}`);
  }

  const child = spawn("dotnet", args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, DOTNET_NOLOGO: "1" } });
  const output: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in ${timeoutMs} ms:\n${output.join("")}`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString();
      output.push(text);
      const match = /Now listening on: (http:\/\/127\.0\.0\.1:\d+)/.exec(output.join(""));
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output.join("")}`));
    });
  });

  return {
    url,
    process: child,
    output,
    stop: () => stopChild(child, "SIGTERM"),
    kill: () => stopChild(child, "SIGKILL"),
  };
}
