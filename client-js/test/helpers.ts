import * as signalR from "@microsoft/signalr";
import type { GuestSession, RoomEvent, RoomEventName } from "../src/contract";
import { roomEventNames } from "../src/contract";

export async function signIn(serverUrl: string, name: string): Promise<GuestSession> {
  const response = await fetch(`${serverUrl}/api/auth/guest`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name }),
  });
  if (!response.ok) {
    throw new Error(`sign-in failed: ${response.status} ${await response.text()}`);
  }
  return (await response.json()) as GuestSession;
}

export interface Recorded {
  name: RoomEventName;
  event: RoomEvent;
}

/** A stock @microsoft/signalr connection that records every room event in arrival order. */
export async function connectStock(serverUrl: string, token: string, query = ""): Promise<{ connection: signalR.HubConnection; events: Recorded[]; waitFor: (match: (r: Recorded) => boolean, timeoutMs?: number) => Promise<Recorded> }> {
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(`${serverUrl}/hubs/chat${query}`, { accessTokenFactory: () => token })
    .configureLogging(signalR.LogLevel.Warning)
    .build();
  const events: Recorded[] = [];
  const waiters: { match: (r: Recorded) => boolean; resolve: (r: Recorded) => void }[] = [];
  for (const name of roomEventNames) {
    connection.on(name, (event: RoomEvent) => {
      const recorded = { name, event };
      events.push(recorded);
      for (let i = waiters.length - 1; i >= 0; i--) {
        const waiter = waiters[i];
        if (waiter && waiter.match(recorded)) {
          waiters.splice(i, 1);
          waiter.resolve(recorded);
        }
      }
    });
  }
  await connection.start();
  const waitFor = (match: (r: Recorded) => boolean, timeoutMs = 20_000): Promise<Recorded> => {
    const seen = events.find(match);
    if (seen) {
      return Promise.resolve(seen);
    }
    return new Promise<Recorded>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timed out waiting for an event")), timeoutMs);
      waiters.push({ match, resolve: (r) => { clearTimeout(timer); resolve(r); } });
    });
  };
  return { connection, events, waitFor };
}
