import { describe, expect, inject, it } from "vitest";
import * as signalR from "@microsoft/signalr";
import { ChatClient, getTicket, signInAsGuest, type ConnectionState } from "../src/client";

const serverUrl = inject("serverUrl");

function waitForState(client: ChatClient, state: ConnectionState, timeoutMs = 30_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`connection never became ${state}`)), timeoutMs);
    const unsubscribe = client.state.subscribe((value) => {
      if (value === state) {
        clearTimeout(timer);
        queueMicrotask(() => unsubscribe());
        resolve();
      }
    });
  });
}

/** What the event stream answers a ticket: a refused one gets 401 and the reason. */
async function streamWith(ticket: string): Promise<{ status: number; error?: string }> {
  const controller = new AbortController();
  const response = await fetch(`${serverUrl}/api/rooms/ts-tickets/events?access_token=${encodeURIComponent(ticket)}`, { signal: controller.signal });
  if (response.ok) {
    controller.abort();
    return { status: response.status };
  }
  return { status: response.status, error: ((await response.json()) as { error: string }).error };
}

/** A stock connection as a browser opens it: one WebSocket, no negotiate, the credential in the URL. */
async function connectInUrl(credential: string): Promise<signalR.HubConnection> {
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(`${serverUrl}/hubs/chat?access_token=${encodeURIComponent(credential)}`, { transport: signalR.HttpTransportType.WebSockets, skipNegotiation: true })
    .configureLogging(signalR.LogLevel.None)
    .build();
  await connection.start();
  return connection;
}

describe("single-use tickets", () => {
  it("the TypeScript client connects with a ticket, buys a fresh one for each reconnect, and none of them works twice", async () => {
    const session = await signInAsGuest(serverUrl, "ticket-alice");
    const bought: string[] = [];
    const realFetch = globalThis.fetch;
    // Watch the tickets the client buys (and pass every request through unchanged).
    globalThis.fetch = async (input, init) => {
      const response = await realFetch(input, init);
      if (String(input).endsWith("/api/auth/ticket") && response.ok) {
        bought.push(((await response.clone().json()) as { ticket: string }).ticket);
      }
      return response;
    };
    let tokenReads = 0;
    const client = new ChatClient({
      serverUrl,
      accessToken: () => {
        tokenReads++;
        return session.token;
      },
      tickets: true,
      reconnectDelaysMs: [0, 200, 500],
      logLevel: signalR.LogLevel.None,
    });
    try {
      await client.start();
      expect(bought).toHaveLength(1);
      expect(tokenReads).toBe(1);
      const snapshot = await client.joinRoom("ts-tickets");
      expect(snapshot.members.map((m) => m.userId)).toEqual([session.userId]);

      // Drop the transport, as a network failure would: the reconnect buys a new ticket.
      const transport = (client.connection as unknown as { connection: { stop(error?: Error): Promise<void> } }).connection;
      await transport.stop(new Error("network dropped (test)"));
      await waitForState(client, "connected");
      expect(bought).toHaveLength(2);
      expect(bought[1]).not.toBe(bought[0]);
      await client.joinRoom("ts-tickets");

      // The tickets the client used are spent: neither opens another connection.
      for (const spent of bought) {
        await expect(connectInUrl(spent)).rejects.toThrow();
        expect(await streamWith(spent)).toEqual({ status: 401, error: expect.stringContaining("the ticket was used already") });
      }
    } finally {
      globalThis.fetch = realFetch;
      await client.close();
    }
  });

  it("a ticket that nobody used opens one connection in the URL, as its session; the token there still works", async () => {
    const session = await signInAsGuest(serverUrl, "ticket-bob");
    const ticket = await getTicket(serverUrl, session.token);
    expect(Date.parse(ticket.expiresAt)).toBeGreaterThan(Date.now());

    const first = await connectInUrl(ticket.ticket);
    const byToken = await connectInUrl(session.token);
    try {
      const snapshot = await first.invoke<{ members: { userId: string }[] }>("JoinRoom", "ts-ticket-url");
      expect(snapshot.members.map((m) => m.userId)).toEqual([session.userId]);
      await expect(connectInUrl(ticket.ticket)).rejects.toThrow();
      expect(await streamWith(ticket.ticket)).toEqual({ status: 401, error: expect.stringContaining("the ticket was used already") });
      expect(first.state).toBe(signalR.HubConnectionState.Connected);
      await byToken.invoke("JoinRoom", "ts-ticket-url");
    } finally {
      await Promise.all([first.stop(), byToken.stop()]);
    }
  });

  it("a ticket is not sold for a token in the query string, nor for another ticket", async () => {
    const session = await signInAsGuest(serverUrl, "ticket-carol");
    const ticket = await getTicket(serverUrl, session.token);
    await expect(getTicket(serverUrl, ticket.ticket)).rejects.toThrow();
    const byQuery = await fetch(`${serverUrl}/api/auth/ticket?access_token=${encodeURIComponent(session.token)}`, { method: "POST" });
    expect(byQuery.status).toBe(401);
  });
});
