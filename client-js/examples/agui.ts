// An AG-UI client in a room: the official HttpAgent posts a message to the room and prints the
// reply as it streams (its text, its tool calls and how the run ended). Everyone in the room sees
// the same reply; Ctrl+C aborts the run, which stops the reply for the whole room.
//
//   cd client-js
//   npx esbuild examples/agui.ts --bundle --platform=node --format=esm --packages=external --outfile=dist/examples/agui.mjs
//   node dist/examples/agui.mjs http://127.0.0.1:5000 lobby "calculate 17*23"
import { HttpAgent } from "@ag-ui/client";

const [server = "http://127.0.0.1:5000", room = "lobby", text = "calculate 17*23"] = process.argv.slice(2);

async function signIn(name: string): Promise<string> {
  const response = await fetch(`${server}/api/auth/guest`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name }),
  });
  if (!response.ok) {
    throw new Error(`sign-in failed: ${response.status} ${await response.text()}`);
  }
  return ((await response.json()) as { token: string }).token;
}

const token = await signIn("agui-example");
// An AG-UI thread is a room: threadId must be the room id.
const agent = new HttpAgent({
  url: `${server}/api/rooms/${encodeURIComponent(room)}/agui`,
  headers: { Authorization: `Bearer ${token}` },
  threadId: room,
});
agent.addMessage({ id: crypto.randomUUID(), role: "user", content: text });
process.once("SIGINT", () => agent.abortRun());

await agent.runAgent({}, {
  onRunStartedEvent: ({ event }) => console.log(`[run ${event.runId} in ${event.threadId}]`),
  onTextMessageContentEvent: ({ event }) => { process.stdout.write(event.delta); },
  onToolCallEndEvent: ({ toolCallName, toolCallArgs }) => console.log(`[tool ${toolCallName} ${JSON.stringify(toolCallArgs)}]`),
  onToolCallResultEvent: ({ event }) => console.log(`[result ${JSON.stringify(event.content)}]`),
  // A reply stopped by anyone in the room finishes with outcome "cancelled".
  onRunFinishedEvent: (params) => console.log(`\n[finished: ${params.outcome}]`),
  onRunErrorEvent: ({ event }) => console.log(`\n[error: ${event.message}]`),
}).catch((error: unknown) => {
  console.error(String(error));
  process.exitCode = 1;
});
