import { Agent, type Connection, type ConnectionContext, type WSMessage } from "agents";
import {
  type ArtifactEvent,
  Author,
  LookoutError,
  ParticipantRole,
  type QueuedPrompt,
  type SessionDetail,
  type SessionEvent,
  type SessionState,
  SOCKET_CLOSE_CODES,
} from "@lookout/protocol";
import { z } from "zod";
import { SecretStore } from "../db/secrets";
import { SessionIndexStore } from "../db/sessions-index";
import { gatewayFetcher } from "../gateway-container";
import { log } from "../log";
import { newestRepositoryImage } from "../repository-images";
import { refreshAfterPush } from "../scm/pull-requests";
import { reportOutcome } from "../triggers/report";
import { HttpSandboxGateway } from "./gateway-client";
import { lifecycleFrom } from "./lifecycle";
import { ConnectionState } from "./presence";
import { type CreateSessionInput, type PromptInput, type ScmContext, SessionCore, type Socket } from "./session-core";
import { capture, type RpcResult } from "./rpc";
import type { Participant } from "./session-store";
import { durableObjectSql, one } from "./sql";

/** Headers the Worker sets on a WebSocket upgrade after it has authenticated the caller. */
export const UPGRADE_HEADERS = {
  kind: "x-lookout-socket-kind",
  author: "x-lookout-author",
  role: "x-lookout-role",
  sandboxId: "x-lookout-sandbox-id",
  /** The browser sign-in that opened a client socket (`socketSignIn`); absent for a service's. */
  signIn: "x-lookout-sign-in",
} as const;

/** A sign-in as sessions know it: 32 hex characters, a digest of the `auth_sessions` key. */
const SignIn = z.string().regex(/^[0-9a-f]{32}$/);

const UpgradeIdentity = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("client"), author: Author, role: ParticipantRole, signIn: SignIn.nullable() }),
  z.object({ kind: z.literal("bridge"), sandboxId: z.string().min(1) }),
]);
type UpgradeIdentity = z.infer<typeof UpgradeIdentity>;

/**
 * One Durable Object per session, on the Agents SDK: SQLite storage, hibernating WebSockets whose
 * per-connection state survives eviction, and the SDK's scheduler as the single alarm. This class
 * only adapts those to `SessionCore`'s ports; the behaviour lives in the core.
 */
export class SessionAgent extends Agent<Cloudflare.Env> {
  private core: SessionCore | null = null;
  /**
   * Parsed connection states by connection id. The source of truth is each socket's attachment
   * (it survives hibernation); this cache saves re-reading and re-validating it for every socket on
   * every broadcast. Only `Socket.setState` writes states, and it writes through.
   */
  private readonly states = new Map<string, ConnectionState | null>();
  /** The open sockets, listed once per wake-up and kept current on connect and close. */
  private sockets: Socket[] | null = null;
  private alarmChain: Promise<void> = Promise.resolve();
  /**
   * The schedule `rearm` made, as its `meta` row records it (null: none), kept in memory because
   * every unit re-arms; undefined until read once after a wake-up. Written wherever the row is.
   */
  private armed: AlarmRecord | null | undefined = undefined;

  /** Frames in our protocol are the only ones clients get: no SDK identity/state/MCP messages. */
  override shouldSendProtocolMessages(): boolean {
    return false;
  }

  /**
   * A client socket is also tagged with its sign-in. Tags are kept by the platform with the socket,
   * so `closeSignedOutSockets` finds it after hibernation without reading any attachment.
   */
  override getConnectionTags(_connection: Connection, ctx: ConnectionContext): string[] {
    const identity = readIdentity(ctx.request.headers);
    if (identity?.kind === "client" && identity.signIn !== null) return ["client", signInTag(identity.signIn)];
    return [identity?.kind === "bridge" ? "bridge" : "client"];
  }

  // ---------------------------------------------------------------- RPC from the Worker

  async createSession(
    input: CreateSessionInput,
    firstPrompt: PromptInput | null,
  ): Promise<RpcResult<{ state: SessionState; promptId: string | null }>> {
    return capture(async () => {
      const core = this.sessionCore();
      const result = core.create(input, firstPrompt);
      // The creator lists sessions right after creating one, so the answer waits for the index.
      await core.indexSettled();
      return result;
    });
  }

  async detail(viewerId: string | null): Promise<RpcResult<SessionDetail>> {
    return capture(() => this.sessionCore().detail(viewerId));
  }

  async rename(author: Author, title: string): Promise<RpcResult<SessionState>> {
    return capture(async () => {
      const core = this.sessionCore();
      const state = core.rename(author, title);
      await core.indexSettled();
      return state;
    });
  }

  async roleOf(userId: string): Promise<RpcResult<ParticipantRole | null>> {
    return capture(() => this.sessionCore().roleOf(userId));
  }

  async sendPrompt(author: Author, input: PromptInput): Promise<RpcResult<{ promptId: string; duplicate: boolean }>> {
    return capture(() => this.sessionCore().enqueuePrompt(author, input));
  }

  async cancelPrompt(author: Author, promptId: string): Promise<RpcResult<QueuedPrompt>> {
    return capture(() => this.sessionCore().cancelPrompt(author, promptId));
  }

  async stopRun(author: Author): Promise<RpcResult<null>> {
    return capture(() => {
      this.sessionCore().stop(author);
      return null;
    });
  }

  async setArchived(author: Author, archived: boolean): Promise<RpcResult<SessionState>> {
    return capture(async () => {
      const core = this.sessionCore();
      const state = core.setArchived(author, archived);
      await core.indexSettled();
      return state;
    });
  }

  async setRole(author: Author, participant: Author, role: "member" | "viewer"): Promise<RpcResult<Participant[]>> {
    return capture(() => this.sessionCore().setRole(author, participant, role));
  }

  async eventsAfter(afterSeq: number, limit: number): Promise<RpcResult<{ events: SessionEvent[]; latestSeq: number }>> {
    return capture(() => this.sessionCore().eventsAfter(afterSeq, limit));
  }

  async participants(): Promise<RpcResult<Participant[]>> {
    return capture(() => this.sessionCore().participants());
  }

  async scmContext(): Promise<RpcResult<ScmContext>> {
    return capture(() => this.sessionCore().scmContext());
  }

  async recordArtifact(artifact: ArtifactEvent): Promise<RpcResult<null>> {
    return capture(() => {
      this.sessionCore().recordArtifact(artifact);
      return null;
    });
  }

  async decidePush(author: Author, approvalId: string, decision: "approve" | "reject"): Promise<RpcResult<null>> {
    return capture(() => {
      this.sessionCore().decidePush(author, approvalId, decision);
      return null;
    });
  }

  authorizeBridge(sandboxId: string, token: string): Promise<"ok" | "unauthorized" | "gone"> {
    return Promise.resolve(this.sessionCore().authorizeBridge(sandboxId, token));
  }

  /**
   * Closes the sockets a browser sign-in opened here, because it signed out, with
   * `SOCKET_CLOSE_CODES.SIGNED_OUT` so the client stops instead of reconnecting. Returns how many.
   */
  closeSignedOutSockets(signIn: string): number {
    if (!SignIn.safeParse(signIn).success) return 0;
    let closed = 0;
    for (const connection of this.getConnections(signInTag(signIn))) {
      connection.close(SOCKET_CLOSE_CODES.SIGNED_OUT, "You signed out. Sign in again to follow this session.");
      // Presence changes now, not when (or if) the client answers the close.
      this.onClose(connection);
      closed += 1;
    }
    return closed;
  }

  // ---------------------------------------------------------------- WebSockets

  override onConnect(connection: Connection, ctx: ConnectionContext): void {
    this.sockets = null;
    const identity = readIdentity(ctx.request.headers);
    if (!identity) {
      connection.close(SOCKET_CLOSE_CODES.BAD_UPGRADE, "The upgrade did not come through the Lookout API.");
      return;
    }
    const core = this.sessionCore();
    const socket = this.toSocket(connection);
    if (identity.kind === "bridge") {
      core.onBridgeConnect(socket, identity.sandboxId);
      return;
    }
    try {
      core.onClientConnect(socket, identity.author, identity.role);
    } catch (error) {
      connection.close(SOCKET_CLOSE_CODES.SESSION_NOT_FOUND, error instanceof LookoutError ? error.message : "The session is unavailable.");
    }
  }

  override onMessage(connection: Connection, message: WSMessage): void {
    const socket = this.toSocket(connection);
    const state = socket.state();
    const raw =
      typeof message === "string"
        ? message
        : message instanceof ArrayBuffer
          ? message
          : new Uint8Array(message.buffer, message.byteOffset, message.byteLength).slice().buffer;
    if (state?.kind === "bridge") this.sessionCore().onBridgeMessage(socket, raw);
    else if (state?.kind === "client") this.sessionCore().onClientMessage(socket, raw);
    else connection.close(SOCKET_CLOSE_CODES.SIGNED_OUT, "This connection has no identity.");
  }

  override onClose(connection: Connection): void {
    this.sockets = null;
    this.sessionCore().onClose(this.toSocket(connection));
    this.states.delete(connection.id);
    this.sockets = null;
  }

  // ---------------------------------------------------------------- the alarm

  /** The scheduler calls this when the earliest deadline is due. */
  onDeadline(): Promise<void> {
    const core = this.sessionCore();
    durableObjectSql(this.ctx.storage).exec(`DELETE FROM meta WHERE key = 'alarm'`);
    this.armed = null;
    core.onAlarm();
    return Promise.resolve();
  }

  private armAlarm(at: number | null): void {
    this.alarmChain = this.alarmChain.then(() => this.rearm(at)).catch((error: unknown) => log.error("arming the alarm failed", { error }));
    this.ctx.waitUntil(this.alarmChain);
  }

  /**
   * Keeps one scheduled wake-up at the earliest deadline or up to a second after it, never before.
   * A wake-up that finds nothing due is harmless (the core re-arms), so the schedule is only
   * replaced when a deadline moves earlier; later or cleared deadlines leave it alone, which keeps
   * busy sessions off the scheduler.
   */
  private async rearm(at: number | null): Promise<void> {
    if (at === null) return;
    const sql = durableObjectSql(this.ctx.storage);
    if (this.armed === undefined) {
      const current = one(sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'alarm'`));
      this.armed = current ? AlarmRecord.parse(JSON.parse(current.value)) : null;
    }
    const armed = this.armed;
    if (armed && armed.at <= at && armed.at >= Date.now()) return;
    if (armed) await this.cancelSchedule(armed.id);
    const schedule = await this.schedule(new Date(wakeUpTime(at, Date.now())), "onDeadline");
    const record: AlarmRecord = { id: schedule.id, at };
    sql.exec(
      `INSERT INTO meta (key, value) VALUES ('alarm', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
      JSON.stringify(record),
    );
    this.armed = record;
  }

  // ---------------------------------------------------------------- wiring

  private toSocket(connection: Connection): Socket {
    const states = this.states;
    // Read once: the SDK's `id` getter looks the socket's attachment up on every read, and `state()`
    // runs for every subscriber on every streamed event.
    const id = connection.id;
    return {
      id,
      state() {
        if (states.has(id)) return states.get(id) ?? null;
        const parsed = ConnectionState.safeParse(connection.state);
        const state = parsed.success ? parsed.data : null;
        states.set(id, state);
        return state;
      },
      setState(state) {
        connection.setState(state);
        states.set(id, state);
      },
      send(text) {
        connection.send(text);
      },
      close(code, reason) {
        connection.close(code, reason);
      },
    };
  }

  private sessionCore(): SessionCore {
    if (this.core) return this.core;
    const env = this.env;
    const index = new SessionIndexStore(env.DB);
    this.core = new SessionCore({
      sql: durableObjectSql(this.ctx.storage),
      now: () => Date.now(),
      sockets: () => (this.sockets ??= [...this.getConnections()].map((connection) => this.toSocket(connection))),
      gateway: new HttpSandboxGateway(env.GATEWAY_URL, env.GATEWAY_SERVICE_SECRET, gatewayFetcher(env)),
      index: {
        write: async (record, lastActivityAt) => {
          try {
            await index.write(record, lastActivityAt);
          } catch (error) {
            log.error("session index write failed", { sessionId: record.id, error });
          }
        },
      },
      armAlarm: (at) => this.armAlarm(at),
      defer: (work) => this.ctx.waitUntil(work.catch((error: unknown) => log.error("background work failed", { error }))),
      secretsFor: (repositoryId) => SecretStore.fromEnv(env).resolveForSandbox(repositoryId),
      publicUrl: env.PUBLIC_URL,
      lifecycle: lifecycleFrom(env.LIFECYCLE_OVERRIDES),
      onBranchPushed: (session, headSha) => refreshAfterPush(env, session, headSha),
      reportOutcome: (outcome) => reportOutcome(env, outcome),
      reportProgress: (outcome) => reportOutcome(env, outcome),
      repositoryImage: async (repositoryId, baseBranch) =>
        (await newestRepositoryImage(env.DB, repositoryId, baseBranch))?.snapshotId ?? null,
      later: (delayMs, work) =>
        this.ctx.waitUntil(
          scheduler
            .wait(delayMs)
            .then(work)
            .catch((error: unknown) => log.error("a delayed progress report failed", { error })),
        ),
    });
    return this.core;
  }
}

const AlarmRecord = z.object({ id: z.string(), at: z.number() });
type AlarmRecord = z.infer<typeof AlarmRecord>;

/**
 * When to wake for a deadline `at`: the first whole second at or after it (and after `now`). The
 * Agents SDK keeps a schedule's time in whole seconds, rounded down; a deadline at 12.400 s would
 * wake at 12.000 s, find nothing due, re-arm for the same second and wake again at once, so every
 * deadline (the bridge's heartbeat every 45 s) set off a storm of alarms, up to a second long, that
 * held up the session's live events. Rounding up wakes at most a second late instead.
 */
export function wakeUpTime(at: number, now: number): number {
  return Math.ceil(Math.max(at, now + 1) / 1000) * 1000;
}

function signInTag(signIn: string): string {
  return `sign-in:${signIn}`;
}

function readIdentity(headers: Headers): UpgradeIdentity | null {
  const kind = headers.get(UPGRADE_HEADERS.kind);
  let author: unknown = null;
  try {
    author = JSON.parse(headers.get(UPGRADE_HEADERS.author) ?? "null");
  } catch {
    return null;
  }
  const result = UpgradeIdentity.safeParse({
    kind,
    author,
    role: headers.get(UPGRADE_HEADERS.role),
    sandboxId: headers.get(UPGRADE_HEADERS.sandboxId),
    signIn: headers.get(UPGRADE_HEADERS.signIn),
  });
  return result.success ? result.data : null;
}
