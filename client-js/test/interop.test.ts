// The AG-UI and AI SDK routes, driven by the official clients from npm (@ag-ui/client's HttpAgent,
// the ai package's DefaultChatTransport and readUIMessageStream), with a stock SignalR member in
// the same room seeing the same reply.
import { HttpAgent } from "@ag-ui/client";
import { DefaultChatTransport, readUIMessageStream, type UIMessage, type UIMessageChunk } from "ai";
import { request as httpRequest } from "node:http";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it, vi } from "vitest";
import type { RoomSnapshot, SendMessageResult, StatusEvent, TokenEvent } from "../src/contract";
import { connectStock, signIn } from "./helpers";
import { startServer, type RunningServer } from "./server";

const serverUrl = inject("serverUrl");

type Member = Awaited<ReturnType<typeof connectStock>>;

function isFinal(event: StatusEvent): boolean {
  return ["completed", "cancelled", "failed"].includes(event.state);
}

/** A hub member of `room`, as a person with the web page would be. */
async function hubMember(url: string, name: string, room: string): Promise<Member> {
  const session = await signIn(url, name);
  const member = await connectStock(url, session.token);
  await member.connection.invoke<RoomSnapshot>("JoinRoom", room);
  return member;
}

function finalStatus(member: Member, generationId: string, timeoutMs?: number): Promise<StatusEvent> {
  return member
    .waitFor((r) => r.name === "status" && (r.event as StatusEvent).generationId === generationId && isFinal(r.event as StatusEvent), timeoutMs)
    .then((r) => r.event as StatusEvent);
}

function tokensOf(member: Member, generationId: string): string {
  return member.events
    .filter((r) => r.name === "token" && (r.event as TokenEvent).generationId === generationId)
    .map((r) => (r.event as TokenEvent).text)
    .join("");
}

// Aborting Node 20's fetch does not always close the connection of a response that is still
// streaming (it did not, once in several runs), so the server would not hear the abort. The two
// tests of aborting give both clients (which take a fetch of the caller's) one over node:http,
// whose abort destroys the socket at once; every other test uses the global fetch.
function closingFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const url = new URL(input instanceof Request ? input.url : input.toString());
  const abortError = (): DOMException => new DOMException("This operation was aborted", "AbortError");
  return new Promise<Response>((resolve, reject) => {
    let fail: (error: unknown) => void = reject;
    const headers = Object.fromEntries(new Headers(init?.headers).entries());
    const request = httpRequest(url, { method: init?.method ?? "GET", headers }, (response) => {
      const responseHeaders = new Headers();
      for (const [name, value] of Object.entries(response.headers)) {
        if (value !== undefined) {
          responseHeaders.set(name, Array.isArray(value) ? value.join(", ") : value);
        }
      }
      const status = response.statusCode ?? 500;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          fail = (error) => controller.error(error);
          response.on("data", (chunk: Buffer) => controller.enqueue(new Uint8Array(chunk)));
          response.on("end", () => controller.close());
          response.on("error", () => undefined);
        },
        cancel() {
          request.destroy();
        },
      });
      resolve(new Response(status === 204 ? null : body, { status, headers: responseHeaders }));
    });
    request.on("error", (error) => fail(init?.signal?.aborted ? abortError() : error));
    init?.signal?.addEventListener("abort", () => {
      fail(abortError());
      request.destroy();
    }, { once: true });
    if (typeof init?.body === "string") {
      request.write(init.body);
    }
    request.end();
  });
}

function agent(url: string, token: string, room: string, text: string, fetchFn: typeof fetch = fetch): HttpAgent {
  const a = new HttpAgent({ url: `${url}/api/rooms/${room}/agui`, headers: { Authorization: `Bearer ${token}` }, threadId: room, fetch: fetchFn });
  a.addMessage({ id: `u-${Math.random().toString(36).slice(2)}`, role: "user", content: text });
  return a;
}

function transport(url: string, token: string, fetchFn: typeof fetch = fetch): DefaultChatTransport<UIMessage> {
  return new DefaultChatTransport<UIMessage>({ api: `${url}/api/ai-sdk/chat`, headers: { Authorization: `Bearer ${token}` }, fetch: fetchFn });
}

function userMessage(text: string): UIMessage {
  return { id: `u-${Math.random().toString(36).slice(2)}`, role: "user", parts: [{ type: "text", text }] };
}

async function readChunks(stream: ReadableStream<UIMessageChunk>, onChunk?: (chunk: UIMessageChunk) => void): Promise<UIMessageChunk[]> {
  const chunks: UIMessageChunk[] = [];
  const reader = stream.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) {
      return chunks;
    }
    chunks.push(value);
    onChunk?.(value);
  }
}

async function lastMessage(stream: ReadableStream<UIMessageChunk>): Promise<UIMessage> {
  let message: UIMessage | undefined;
  for await (const snapshot of readUIMessageStream<UIMessage>({ stream, onError: (e) => { throw e; } })) {
    message = snapshot;
  }
  if (!message) {
    throw new Error("the stream built no message");
  }
  return message;
}

function textOf(message: UIMessage): string {
  return message.parts.map((p) => (p.type === "text" ? p.text : "")).join("");
}

function post(url: string, path: string, token: string | null, body: string): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json", accept: "text/event-stream" };
  if (token) {
    headers.Authorization = `Bearer ${token}`;
  }
  return fetch(`${url}${path}`, { method: "POST", headers, body });
}

async function refusal(response: Response): Promise<{ status: number; error: string }> {
  const body = (await response.json()) as { error: string };
  return { status: response.status, error: body.error };
}

// Any warning of the AG-UI client's enforcement stage means a field it did not expect.
let warnings: string[] = [];
beforeEach(() => {
  warnings = [];
  vi.spyOn(console, "warn").mockImplementation((...args: unknown[]) => {
    warnings.push(args.map(String).join(" "));
  });
  // HttpAgent logs a refused run ("Agent execution failed") before rejecting; the tests check the rejection.
  vi.spyOn(console, "error").mockImplementation(() => undefined);
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe("AG-UI: HttpAgent against POST /api/rooms/{roomId}/agui", () => {
  it("runs a reply with a tool call, which a hub member of the room sees too", async () => {
    const room = "agui-calc";
    const alice = await signIn(serverUrl, "agui-alice");
    const bob = await hubMember(serverUrl, "agui-bob", room);
    try {
      const a = agent(serverUrl, alice.token, room, "calculate 17*23");
      const types: string[] = [];
      let runId = "";
      let threadId = "";
      let outcome = "";
      let toolArgs: Record<string, unknown> = {};
      let toolResult = "";
      let streamed = "";
      const result = await a.runAgent({}, {
        onEvent: ({ event }) => { types.push(event.type); },
        onRunStartedEvent: ({ event }) => { runId = event.runId; threadId = event.threadId; },
        onTextMessageContentEvent: ({ event }) => { streamed += event.delta; },
        onToolCallEndEvent: ({ toolCallName, toolCallArgs }) => { expect(toolCallName).toBe("calculator"); toolArgs = toolCallArgs; },
        onToolCallResultEvent: ({ event }) => { toolResult = typeof event.content === "string" ? event.content : ""; },
        onRunFinishedEvent: (params) => { outcome = params.outcome; },
      });

      expect(threadId).toBe(room);
      expect(runId).toMatch(/^g-/);
      expect(outcome).toBe("success");
      expect(types[0]).toBe("RUN_STARTED");
      expect(types.at(-1)).toBe("RUN_FINISHED");
      expect(types).toEqual(expect.arrayContaining(["TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END", "TOOL_CALL_RESULT", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END"]));
      expect(toolArgs).toEqual({ expression: "17*23" });
      expect(toolResult).toBe("391");
      expect(streamed).toContain("391");

      // The agent's conversation: the assistant message with its tool call and text, and the tool's result.
      const assistant = result.newMessages.find((m) => m.role === "assistant");
      expect(assistant?.role === "assistant" && assistant.content).toBe(streamed);
      expect(assistant?.role === "assistant" && assistant.toolCalls?.[0]?.function.name).toBe("calculator");
      expect(result.newMessages.some((m) => m.role === "tool" && m.content === "391")).toBe(true);

      const seen = await finalStatus(bob, runId);
      expect(seen.state).toBe("completed");
      expect(seen.text).toBe(streamed);
      expect(warnings.filter((w) => w.includes("[ag-ui]"))).toEqual([]);
    } finally {
      await bob.connection.stop();
    }
  });

  it("sends SSE ids that are the room's seqs, in order", async () => {
    const room = "agui-ids";
    const alice = await signIn(serverUrl, "agui-ids");
    const response = await post(serverUrl, `/api/rooms/${room}/agui`, alice.token,
      JSON.stringify({ threadId: room, runId: "r-1", messages: [{ id: "1", role: "user", content: "hello" }], tools: [], context: [] }));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(response.headers.get("x-accel-buffering")).toBe("no");
    const text = await response.text();
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids.length).toBeGreaterThan(3);
    ids.forEach((id, i) => expect(id).toBeGreaterThanOrEqual(ids[i - 1] ?? 0));
    const events = [...text.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1] ?? "{}") as { type: string; delta?: string });
    expect(events[0]?.type).toBe("RUN_STARTED");
    expect(events.at(-1)?.type).toBe("RUN_FINISHED");
    expect(events.filter((e) => e.type === "TEXT_MESSAGE_CONTENT").every((e) => (e.delta ?? "").length > 0)).toBe(true);
  });

  it("refuses bad input with a clear status and error, and the room goes on", async () => {
    const room = "agui-bad";
    const alice = await signIn(serverUrl, "agui-bad-alice");
    const path = `/api/rooms/${room}/agui`;
    const ok = (messages: unknown, extra: Record<string, unknown> = {}): string => JSON.stringify({ threadId: room, runId: "r", messages, ...extra });

    expect(await refusal(await post(serverUrl, path, alice.token, "{not json"))).toMatchObject({ status: 400, error: expect.stringMatching(/not valid JSON/) });
    expect(await refusal(await post(serverUrl, path, alice.token, "[1,2]"))).toMatchObject({ status: 400, error: expect.stringMatching(/JSON object/) });
    expect(await refusal(await post(serverUrl, path, alice.token, ok([])))).toMatchObject({ status: 400, error: expect.stringMatching(/messages is empty/) });
    expect(await refusal(await post(serverUrl, path, alice.token, JSON.stringify({ threadId: room })))).toMatchObject({ status: 400, error: expect.stringMatching(/messages must be an array/) });
    expect(await refusal(await post(serverUrl, path, alice.token, ok([{ id: "1", role: "assistant", content: "hi" }])))).toMatchObject({ status: 400, error: expect.stringMatching(/no user message/) });
    expect(await refusal(await post(serverUrl, path, alice.token, ok([{ id: "1", role: "user", content: "  " }])))).toMatchObject({ status: 400, error: expect.stringMatching(/empty/) });
    expect(await refusal(await post(serverUrl, path, alice.token, ok([{ id: "1", role: "user", content: "hi" }], { threadId: "another-room" })))).toMatchObject({ status: 400, error: expect.stringMatching(/threadId 'another-room' is not this room/) });
    expect(await refusal(await post(serverUrl, `/api/rooms/no spaces/agui`, alice.token, ok([{ id: "1", role: "user", content: "hi" }], { threadId: "no spaces" })))).toMatchObject({ status: 400, error: expect.stringMatching(/invalid room id/) });
    expect((await post(serverUrl, path, null, ok([{ id: "1", role: "user", content: "hi" }]))).status).toBe(401);

    // A private room that alice was not invited to.
    const owner = await signIn(serverUrl, "agui-owner");
    const ownerHub = await connectStock(serverUrl, owner.token);
    try {
      await ownerHub.connection.invoke("CreateRoom", "agui-private", { visibility: "private" });
      const privatePath = "/api/rooms/agui-private/agui";
      const body = JSON.stringify({ threadId: "agui-private", runId: "r", messages: [{ id: "1", role: "user", content: "let me in" }] });
      expect(await refusal(await post(serverUrl, privatePath, alice.token, body))).toMatchObject({ status: 403, error: expect.stringMatching(/private/) });
      // The official client reports it as the run's error.
      await expect(agent(serverUrl, alice.token, "agui-private", "let me in").runAgent()).rejects.toThrow(/HTTP 403/);
      expect(ownerHub.events.filter((r) => r.name === "message")).toEqual([]);
    } finally {
      await ownerHub.connection.stop();
    }

    // Nothing was harmed: the same user in the same room gets a reply.
    let outcome = "";
    await agent(serverUrl, alice.token, room, "hello after all that").runAgent({}, { onRunFinishedEvent: (p) => { outcome = p.outcome; } });
    expect(outcome).toBe("success");
  });
});

describe("AG-UI and the AI SDK: more than one run, and a failed reply", () => {
  it("AG-UI: two runs posted at once to one room each get their own reply, whole, and the room has both", async () => {
    const room = "agui-together";
    const [alice, carol] = await Promise.all([signIn(serverUrl, "agui-together-alice"), signIn(serverUrl, "agui-together-carol")]);
    const bob = await hubMember(serverUrl, "agui-together-bob", room);
    try {
      const run = async (token: string, text: string): Promise<{ runId: string; outcome: string; streamed: string; tools: string[] }> => {
        let runId = "";
        let outcome = "";
        let streamed = "";
        const tools: string[] = [];
        await agent(serverUrl, token, room, text).runAgent({}, {
          onRunStartedEvent: ({ event }) => { runId = event.runId; },
          onTextMessageContentEvent: ({ event }) => { streamed += event.delta; },
          onToolCallResultEvent: ({ event }) => { tools.push(typeof event.content === "string" ? event.content : ""); },
          onRunFinishedEvent: (p) => { outcome = p.outcome; },
        });
        return { runId, outcome, streamed, tools };
      };
      const [first, second] = await Promise.all([run(alice.token, "calculate 17*23"), run(carol.token, "hello from carol")]);

      expect(first.runId).not.toBe(second.runId);
      expect([first.outcome, second.outcome]).toEqual(["success", "success"]);
      // Each run carries only its own reply: the tool result is alice's alone.
      expect(first.tools).toEqual(["391"]);
      expect(second.tools).toEqual([]);
      const [seenFirst, seenSecond] = await Promise.all([finalStatus(bob, first.runId), finalStatus(bob, second.runId)]);
      expect(seenFirst.text).toBe(first.streamed);
      expect(seenSecond.text).toBe(second.streamed);
      expect(tokensOf(bob, first.runId)).toBe(first.streamed);
      expect(tokensOf(bob, second.runId)).toBe(second.streamed);
      expect(warnings.filter((w) => w.includes("[ag-ui]") || w.includes("No message found"))).toEqual([]);
    } finally {
      await bob.connection.stop();
    }
  });

  it("a reply that fails ends the AG-UI run with RUN_ERROR and the AI SDK stream with an error chunk", async () => {
    const room = "interop-fail";
    const alice = await signIn(serverUrl, "interop-fail-alice");
    const bob = await hubMember(serverUrl, "interop-fail-bob", room);
    try {
      let runId = "";
      let runError: { message: string; code?: string } | undefined;
      let finished = false;
      const ended = await agent(serverUrl, alice.token, room, "please #fail").runAgent({}, {
        onRunStartedEvent: ({ event }) => { runId = event.runId; },
        onRunErrorEvent: ({ event }) => { runError = { message: event.message, code: event.code }; },
        onRunFinishedEvent: () => { finished = true; },
      }).then(() => undefined, (e: unknown) => e);
      expect(runError).toMatchObject({ code: "failed", message: expect.stringMatching(/#fail/) });
      expect(finished).toBe(false);
      expect(String(ended ?? "")).not.toMatch(/Cannot send/);
      expect((await finalStatus(bob, runId)).state).toBe("failed");

      const errors: unknown[] = [];
      const stream = await transport(serverUrl, alice.token).sendMessages({
        chatId: room, messages: [userMessage("again #fail")], trigger: "submit-message", messageId: undefined, abortSignal: undefined,
      });
      const [forChunks, forMessage] = stream.tee();
      const built = (async () => {
        let message: UIMessage | undefined;
        for await (const snapshot of readUIMessageStream<UIMessage>({ stream: forMessage, onError: (e) => { errors.push(e); } })) {
          message = snapshot;
        }
        return message;
      })();
      const chunks = await readChunks(forChunks);
      await built;
      const error = chunks.find((c) => c.type === "error");
      expect(error).toMatchObject({ type: "error", errorText: expect.stringMatching(/#fail/) });
      expect(chunks.at(-1)).toMatchObject({ type: "finish", finishReason: "error" });
      expect(errors.length).toBeGreaterThan(0);
      const generationId = (chunks[0]?.type === "start" ? (chunks[0].messageMetadata as { generationId: string }).generationId : "");
      expect((await finalStatus(bob, generationId)).state).toBe("failed");
    } finally {
      await bob.connection.stop();
    }
  });
});

describe("AI SDK: DefaultChatTransport against /api/ai-sdk/chat", () => {
  it("streams a reply with its tool part and text, as a hub member sees it", async () => {
    const room = "ai-calc";
    const alice = await signIn(serverUrl, "ai-alice");
    const bob = await hubMember(serverUrl, "ai-bob", room);
    try {
      const stream = await transport(serverUrl, alice.token).sendMessages({
        chatId: room, messages: [userMessage("calculate 17*23")], trigger: "submit-message", messageId: undefined, abortSignal: undefined,
      });
      const [forChunks, forMessage] = stream.tee();
      const [chunks, message] = await Promise.all([readChunks(forChunks), lastMessage(forMessage)]);

      const start = chunks[0];
      expect(start?.type).toBe("start");
      const meta = start?.type === "start" ? (start.messageMetadata as { roomId: string; generationId: string }) : undefined;
      expect(meta?.roomId).toBe(room);
      expect(chunks.at(-1)?.type).toBe("finish");
      expect(message.role).toBe("assistant");
      expect(message.id).toBe(start?.type === "start" ? start.messageId : "");

      const tool = message.parts.find((p) => p.type === "tool-calculator");
      expect(tool).toMatchObject({ type: "tool-calculator", state: "output-available", input: { expression: "17*23" }, output: "391" });
      const text = textOf(message);
      expect(text).toContain("391");

      const seen = await finalStatus(bob, meta?.generationId ?? "");
      expect(seen.state).toBe("completed");
      expect(seen.text).toBe(text);
      expect(seen.messageId).toBe(message.id);
    } finally {
      await bob.connection.stop();
    }
  });

  it("regenerates a reply (trigger regenerate-message): a new version, and the old one stays", async () => {
    const room = "ai-regenerate";
    const alice = await signIn(serverUrl, "ai-regen-alice");
    const bob = await hubMember(serverUrl, "ai-regen-bob", room);
    try {
      const t = transport(serverUrl, alice.token);
      const first = await lastMessage(await t.sendMessages({
        chatId: room, messages: [userMessage("hello there")], trigger: "submit-message", messageId: undefined, abortSignal: undefined,
      }));
      const again = await t.sendMessages({
        chatId: room, messages: [userMessage("hello there"), first], trigger: "regenerate-message", messageId: first.id, abortSignal: undefined,
      });
      const [forChunks, forMessage] = again.tee();
      const [chunks, second] = await Promise.all([readChunks(forChunks), lastMessage(forMessage)]);
      expect(chunks.at(-1)?.type).toBe("finish");
      expect(second.id).not.toBe(first.id);
      expect(textOf(second).length).toBeGreaterThan(0);

      // The hub member sees the new reply start as a version of the old one.
      const started = await bob.waitFor((r) => r.name === "message" && (r.event as { message: { messageId: string } }).message.messageId === second.id);
      expect((started.event as { message: { regenerates?: string } }).message.regenerates).toBe(first.id);
    } finally {
      await bob.connection.stop();
    }
  });

  it("answers the v1 stream headers and closes with [DONE]", async () => {
    const alice = await signIn(serverUrl, "ai-wire");
    const response = await post(serverUrl, "/api/ai-sdk/chat", alice.token,
      JSON.stringify({ id: "ai-wire", messages: [userMessage("hello")], trigger: "submit-message" }));
    expect(response.status).toBe(200);
    expect(response.headers.get("x-vercel-ai-ui-message-stream")).toBe("v1");
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(response.headers.get("x-accel-buffering")).toBe("no");
    const text = await response.text();
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
  });

  it("answers 204 to a resume when no reply runs", async () => {
    const alice = await signIn(serverUrl, "ai-idle");
    const idle = await hubMember(serverUrl, "ai-idle-hub", "ai-idle");
    await idle.connection.stop();
    expect(await transport(serverUrl, alice.token).reconnectToStream({ chatId: "ai-idle" })).toBeNull();
  });

  it("refuses bad input with a clear status and error", async () => {
    const alice = await signIn(serverUrl, "ai-bad-alice");
    const path = "/api/ai-sdk/chat";
    expect(await refusal(await post(serverUrl, path, alice.token, "nope"))).toMatchObject({ status: 400, error: expect.stringMatching(/not valid JSON/) });
    expect(await refusal(await post(serverUrl, path, alice.token, JSON.stringify({ messages: [userMessage("hi")] })))).toMatchObject({ status: 400, error: expect.stringMatching(/id is required/) });
    expect(await refusal(await post(serverUrl, path, alice.token, JSON.stringify({ id: "ai-bad", messages: [], trigger: "submit-message" })))).toMatchObject({ status: 400, error: expect.stringMatching(/messages is empty/) });
    expect(await refusal(await post(serverUrl, path, alice.token, JSON.stringify({ id: "ai-bad", messages: [{ id: "1", role: "user", content: "old shape" }] })))).toMatchObject({ status: 400, error: expect.stringMatching(/parts/) });
    expect(await refusal(await post(serverUrl, path, alice.token, JSON.stringify({ id: "ai-bad", messages: [userMessage("hi")], trigger: "resume" })))).toMatchObject({ status: 400, error: expect.stringMatching(/trigger must be/) });
    expect((await post(serverUrl, path, null, JSON.stringify({ id: "ai-bad", messages: [userMessage("hi")] }))).status).toBe(401);

    const owner = await signIn(serverUrl, "ai-owner");
    const ownerHub = await connectStock(serverUrl, owner.token);
    try {
      await ownerHub.connection.invoke("CreateRoom", "ai-private", { visibility: "private" });
      const t = transport(serverUrl, alice.token);
      const refused = await t.sendMessages({ chatId: "ai-private", messages: [userMessage("let me in")], trigger: "submit-message", messageId: undefined, abortSignal: undefined })
        .then(() => null, (e: unknown) => e as { statusCode?: number; message?: string });
      expect(refused?.statusCode).toBe(403);
      expect(refused?.message).toMatch(/private/);
      const resumeRefused = await t.reconnectToStream({ chatId: "ai-private" }).then(() => null, (e: unknown) => e as { statusCode?: number });
      expect(resumeRefused?.statusCode).toBe(403);
      expect(ownerHub.events.filter((r) => r.name === "message")).toEqual([]);
    } finally {
      await ownerHub.connection.stop();
    }

    // Nothing was harmed.
    const message = await lastMessage(await transport(serverUrl, alice.token).sendMessages({
      chatId: "ai-bad", messages: [userMessage("hello after all that")], trigger: "submit-message", messageId: undefined, abortSignal: undefined,
    }));
    expect(textOf(message).length).toBeGreaterThan(0);
  });
});

describe("stopping and resuming (a slow offline model)", () => {
  let slow: RunningServer;
  beforeAll(async () => {
    slow = await startServer({ "Chat:Offline:TokenDelayMs": "30", "Chat:Offline:ReplyTokens": "400" });
  });
  afterAll(async () => {
    await slow?.stop();
  });

  it("AG-UI: aborting the run stops the reply for a hub member of the room", async () => {
    const room = "agui-stop";
    const alice = await signIn(slow.url, "agui-stop-alice");
    const bob = await hubMember(slow.url, "agui-stop-bob", room);
    try {
      const a = agent(slow.url, alice.token, room, "a long answer please", closingFetch);
      let runId = "";
      let deltas = 0;
      const run = a.runAgent({}, {
        onRunStartedEvent: ({ event }) => { runId = event.runId; },
        onTextMessageContentEvent: () => {
          if (++deltas === 3) {
            a.abortRun();
          }
        },
      }).then(() => undefined, (e: unknown) => e);
      const ended = await run;
      expect(runId).toMatch(/^g-/);
      expect({ deltas, ended: String(ended ?? "") }).toMatchObject({ deltas: 3, ended: "" });
      const seen = await finalStatus(bob, runId);
      expect(seen.state).toBe("cancelled");
      // Stopped by the person whose client aborted.
      expect((seen as StatusEvent & { cancelledBy?: { name: string } }).cancelledBy?.name).toBe("agui-stop-alice");
    } finally {
      await bob.connection.stop();
    }
  });

  it("AG-UI: a reply stopped by a hub member ends the run as RUN_FINISHED with outcome cancelled", async () => {
    const room = "agui-stopped";
    const alice = await signIn(slow.url, "agui-stopped-alice");
    const bob = await hubMember(slow.url, "agui-stopped-bob", room);
    try {
      const a = agent(slow.url, alice.token, room, "a long answer please");
      let outcome = "";
      let metadata: unknown;
      let runId = "";
      let deltas = 0;
      let text = "";
      await a.runAgent({}, {
        onRunStartedEvent: ({ event }) => { runId = event.runId; },
        onTextMessageContentEvent: ({ event }) => {
          text += event.delta;
          if (++deltas === 3) {
            void bob.connection.invoke<boolean>("CancelGeneration", runId);
          }
        },
        onRunFinishedEvent: (p) => { outcome = p.outcome; metadata = p.event.metadata; },
      });
      expect(outcome).toBe("cancelled");
      expect(metadata).toMatchObject({ reason: "stopped", cancelledBy: { name: "agui-stopped-bob" } });
      const seen = await finalStatus(bob, runId);
      expect(seen.state).toBe("cancelled");
      expect(seen.text).toBe(text);
      expect(warnings.filter((w) => w.includes("[ag-ui]"))).toEqual([]);
    } finally {
      await bob.connection.stop();
    }
  });

  it("AI SDK: a reply stopped by a hub member ends in abort", async () => {
    const room = "ai-stop";
    const alice = await signIn(slow.url, "ai-stop-alice");
    const bob = await hubMember(slow.url, "ai-stop-bob", room);
    try {
      const stream = await transport(slow.url, alice.token).sendMessages({
        chatId: room, messages: [userMessage("a long answer please")], trigger: "submit-message", messageId: undefined, abortSignal: undefined,
      });
      let generationId = "";
      let deltas = 0;
      const chunks = await readChunks(stream, (chunk) => {
        if (chunk.type === "start") {
          generationId = (chunk.messageMetadata as { generationId: string }).generationId;
        }
        if (chunk.type === "text-delta" && ++deltas === 3) {
          void bob.connection.invoke<boolean>("CancelGeneration", generationId);
        }
      });
      expect(chunks.at(-1)).toMatchObject({ type: "abort", reason: "stopped by ai-stop-bob" });
      expect(chunks.some((c) => c.type === "finish")).toBe(false);
      const text = chunks.map((c) => (c.type === "text-delta" ? c.delta : "")).join("");
      const seen = await finalStatus(bob, generationId);
      expect(seen.state).toBe("cancelled");
      expect(seen.text).toBe(text);
    } finally {
      await bob.connection.stop();
    }
  });

  it("AI SDK: aborting the request (stop()) stops the reply for the room", async () => {
    const room = "ai-abort";
    const alice = await signIn(slow.url, "ai-abort-alice");
    const bob = await hubMember(slow.url, "ai-abort-bob", room);
    try {
      const controller = new AbortController();
      const stream = await transport(slow.url, alice.token, closingFetch).sendMessages({
        chatId: room, messages: [userMessage("a long answer please")], trigger: "submit-message", messageId: undefined, abortSignal: controller.signal,
      });
      let generationId = "";
      let deltas = 0;
      await readChunks(stream, (chunk) => {
        if (chunk.type === "start") {
          generationId = (chunk.messageMetadata as { generationId: string }).generationId;
        }
        if (chunk.type === "text-delta" && ++deltas === 3) {
          controller.abort();
        }
      }).catch(() => undefined);
      const seen = await finalStatus(bob, generationId);
      expect(seen.state).toBe("cancelled");
      expect((seen as StatusEvent & { cancelledBy?: { name: string } }).cancelledBy?.name).toBe("ai-abort-alice");
    } finally {
      await bob.connection.stop();
    }
  });

  it("AI SDK: a second transport resumes the running reply from its start, every delta exactly once", async () => {
    const room = "ai-resume";
    const alice = await signIn(slow.url, "ai-resume-alice");
    const bob = await hubMember(slow.url, "ai-resume-bob", room);
    try {
      const sent = await bob.connection.invoke<SendMessageResult>("SendMessage", room, "a long answer please");
      // Part of the reply has streamed before the page (re)loads.
      await bob.waitFor((r) => r.name === "token" && (r.event as TokenEvent).generationId === sent.generationId && tokensOf(bob, sent.generationId).split(" ").length > 5);

      const stream = await transport(slow.url, alice.token).reconnectToStream({ chatId: room });
      expect(stream).not.toBeNull();
      const [forChunks, forMessage] = stream!.tee();
      const [chunks, message] = await Promise.all([readChunks(forChunks), lastMessage(forMessage)]);

      const final = await finalStatus(bob, sent.generationId ?? "");
      expect(final.state).toBe("completed");
      expect(chunks[0]).toMatchObject({ type: "start", messageId: final.messageId });
      expect(chunks.at(-1)).toMatchObject({ type: "finish" });
      const deltas = chunks.filter((c) => c.type === "text-delta").map((c) => (c.type === "text-delta" ? c.delta : ""));
      expect(deltas.join("")).toBe(tokensOf(bob, sent.generationId ?? ""));
      expect(deltas.join("")).toBe(final.text);
      expect(textOf(message)).toBe(final.text);
    } finally {
      await bob.connection.stop();
    }
  });
});
