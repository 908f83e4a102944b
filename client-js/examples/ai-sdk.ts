// The AI SDK's stock DefaultChatTransport in a room, as useChat({ id: room }) uses it: sends a
// message and prints the reply's UI message as it builds (text and tool parts). With --resume it
// picks up the reply that is running in the room now, from its start, as useChat({ resume: true })
// does after a page reload.
//
//   cd client-js
//   npx esbuild examples/ai-sdk.ts --bundle --platform=node --format=esm --packages=external --outfile=dist/examples/ai-sdk.mjs
//   node dist/examples/ai-sdk.mjs http://127.0.0.1:5000 lobby "calculate 17*23"
//   node dist/examples/ai-sdk.mjs http://127.0.0.1:5000 lobby --resume
import { DefaultChatTransport, readUIMessageStream, type UIMessage, type UIMessageChunk } from "ai";

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

const token = await signIn("ai-sdk-example");
// The chat id is the room id; the reconnect URL is `${api}/${chatId}/stream`.
const transport = new DefaultChatTransport<UIMessage>({ api: `${server}/api/ai-sdk/chat`, headers: { Authorization: `Bearer ${token}` } });
const stop = new AbortController();
process.once("SIGINT", () => stop.abort());

let stream: ReadableStream<UIMessageChunk> | null;
if (text === "--resume") {
  stream = await transport.reconnectToStream({ chatId: room });
  if (!stream) {
    console.log(`no reply is running in ${room}`);
  }
} else {
  stream = await transport.sendMessages({
    chatId: room,
    trigger: "submit-message",
    messageId: undefined,
    messages: [{ id: crypto.randomUUID(), role: "user", parts: [{ type: "text", text }] }],
    abortSignal: stop.signal,
  });
}

if (stream) {
  let printed = "";
  let message: UIMessage | undefined;
  for await (message of readUIMessageStream<UIMessage>({ stream, onError: (e) => console.error(`[error: ${String(e)}]`) })) {
    const now = message.parts.map((p) => (p.type === "text" ? p.text : "")).join("");
    process.stdout.write(now.slice(printed.length));
    printed = now;
  }
  for (const part of message?.parts ?? []) {
    if (part.type.startsWith("tool-") && "input" in part) {
      console.log(`\n[${part.type} ${JSON.stringify(part.input)} → ${"output" in part ? JSON.stringify(part.output) : part.state}]`);
    }
  }
  console.log(`\n[message ${message?.id}]`);
}
