import { SELF, env } from "cloudflare:test";
import { type ServerMessage, type SessionCommand, type SessionEvent } from "@lookout/protocol";
import type { CreateSandboxRequest } from "@lookout/protocol";

export const ORIGIN = "http://lookout.test";

/** Signs in with the test admin token and returns the session cookie. */
export async function login(): Promise<string> {
  const response = await SELF.fetch(`${ORIGIN}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token: "test" }),
  });
  if (response.status !== 200) throw new Error(`login failed: ${response.status} ${await response.text()}`);
  const cookie = response.headers.get("set-cookie");
  if (!cookie) throw new Error("login set no cookie");
  return cookie.split(";")[0]!;
}

export function api(cookie: string) {
  return async (method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> => {
    const response = await SELF.fetch(`${ORIGIN}${path}`, {
      method,
      headers: { cookie, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : null };
  };
}

let repoCounter = 0;

export async function createRepositoryAndSession(
  cookie: string,
  extra: Record<string, unknown> = {},
): Promise<{ repositoryId: string; sessionId: string }> {
  const call = api(cookie);
  const repo = await call("POST", "/api/repositories", {
    kind: "local",
    path: `/srv/repos/demo-${++repoCounter}`,
    name: `demo-${repoCounter}-${crypto.randomUUID().slice(0, 8)}`,
  });
  if (repo.status !== 201) throw new Error(`repository: ${repo.status} ${JSON.stringify(repo.json)}`);
  const session = await call("POST", "/api/sessions", { repositoryId: repo.json.repository.id, title: "Test session", ...extra });
  if (session.status !== 201) throw new Error(`session: ${session.status} ${JSON.stringify(session.json)}`);
  return { repositoryId: repo.json.repository.id, sessionId: session.json.session.id };
}

/** A WebSocket peer that buffers what it receives and lets a test wait for a message. */
export class Peer<M extends { type: string } = ServerMessage> {
  readonly received: M[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: (() => void)[] = [];

  constructor(readonly socket: WebSocket) {
    socket.addEventListener("message", (event) => {
      this.received.push(JSON.parse(String(event.data)) as M);
      this.notify();
    });
    socket.addEventListener("close", (event) => {
      this.closed = { code: event.code, reason: event.reason };
      this.notify();
    });
  }

  send(message: unknown): void {
    this.socket.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** Resolves with the first buffered or future message matching `predicate`. */
  async waitFor<T extends M>(predicate: (message: M) => message is T, timeoutMs?: number): Promise<T>;
  async waitFor(predicate: (message: M) => boolean, timeoutMs?: number): Promise<M>;
  async waitFor(predicate: (message: M) => boolean, timeoutMs = 5_000): Promise<M> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.find(predicate);
      if (found) return found;
      if (this.closed) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}) before the expected message`);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`timed out; received: ${JSON.stringify(this.received.map((m) => m.type))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async waitForClose(timeoutMs = 5_000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error("socket did not close");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.closed;
  }

  close(): void {
    this.socket.close(1000, "done");
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/** Every event a client has received, in arrival order. */
export function eventsOf(peer: Peer): SessionEvent[] {
  return peer.received.flatMap((message) => (message.type === "events" ? message.events : []));
}

export async function openClient(cookie: string, sessionId: string): Promise<Peer> {
  const minted = await api(cookie)("POST", `/api/sessions/${sessionId}/ws-token`);
  if (minted.status !== 200) throw new Error(`ws-token: ${minted.status} ${JSON.stringify(minted.json)}`);
  const response = await SELF.fetch(`${ORIGIN}${minted.json.path}`, { headers: { upgrade: "websocket" } });
  if (!response.webSocket) throw new Error(`upgrade refused: ${response.status} ${await response.text()}`);
  response.webSocket.accept();
  return new Peer(response.webSocket);
}

export async function subscribe(cookie: string, sessionId: string, afterSeq = 0): Promise<Peer> {
  const peer = await openClient(cookie, sessionId);
  peer.send({ type: "subscribe", afterSeq });
  await peer.waitFor((m) => m.type === "subscribed");
  return peer;
}

export interface FakeGatewayState {
  created: CreateSandboxRequest[];
  terminated: string[];
  snapshots: string[];
}

export async function gatewayState(): Promise<FakeGatewayState> {
  const response = await env.GATEWAY!.fetch("http://gateway/__fake/state");
  return response.json<FakeGatewayState>();
}

export async function failNextSpawns(...kinds: ("transient" | "permanent")[]): Promise<void> {
  await env.GATEWAY!.fetch("http://gateway/__fake/fail", { method: "POST", body: JSON.stringify({ kinds }) });
}

/** Waits until the fake gateway was asked to start a sandbox for the session. */
export async function sandboxRequestFor(sessionId: string, timeoutMs = 5_000, index = 0): Promise<CreateSandboxRequest> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const created = (await gatewayState()).created.filter((request) => request.sessionId === sessionId);
    if (created[index]) return created[index];
    if (Date.now() > deadline) throw new Error(`no sandbox #${index} requested for ${sessionId}`);
    await scheduler.wait(10);
  }
}

export async function openBridge(
  sessionId: string,
  sandboxId: string,
  token: string,
): Promise<{ status: number; peer: Peer<SessionCommand> | null }> {
  const response = await SELF.fetch(`${ORIGIN}/api/sessions/${sessionId}/bridge`, {
    headers: { upgrade: "websocket", authorization: `Bearer ${token}`, "x-lookout-sandbox-id": sandboxId },
  });
  if (!response.webSocket) return { status: response.status, peer: null };
  response.webSocket.accept();
  return { status: response.status, peer: new Peer<SessionCommand>(response.webSocket) };
}
