import type {
  Author,
  CreateSessionRequest,
  ParticipantRole,
  PullRequest,
  QueuedPrompt,
  Repository,
  SessionDetail,
  SessionEvent,
  SessionState,
  SessionSummary,
} from "@lookout/protocol";
import { fakeAutomations, handleAutomations, type FakeAutomationsState } from "./fake-automations";

/**
 * An in-memory stand-in for the control plane's REST API, shaped exactly like the contract. The
 * component tests route `fetch` to it; the screenshot server serves it over HTTP.
 */
export interface FakeApiState {
  token: string;
  signedIn: boolean;
  me: { user: Author; role: "admin" | "member" };
  models: { models: Array<{ id: string; label: string; offline: boolean }>; defaultModel: string };
  repositories: Repository[];
  secrets: Map<string, Map<string, number>>;
  sessions: SessionSummary[];
  sessionStates: Map<string, SessionState>;
  queues: Map<string, QueuedPrompt[]>;
  events: Map<string, SessionEvent[]>;
  /** The caller's role per session; "owner" when unset. */
  roles: Map<string, ParticipantRole>;
  /** Each session's pull request, once opened. */
  pullRequests: Map<string, PullRequest>;
  /** What `POST …/pull-request` opens for a session (title and draft come from the request). */
  pullRequestTemplates: Map<string, PullRequest>;
  /** Automations, their runs and trigger settings (`fake-automations.ts`). */
  automations: FakeAutomationsState;
  /** Everyone who joined each session, with their roles (`GET`/`PUT …/participants`). */
  participants: Map<string, Array<{ participant: Author; role: ParticipantRole; joinedAt: number }>>;
  /** Every request, for assertions. */
  calls: Array<{ method: string; path: string; body: unknown }>;
  /** Overrides: `METHOD /path` → response. */
  overrides: Map<string, FakeResponse>;
  nextId: number;
}

export interface FakeResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export const ME: Author = { userId: "u_ada", name: "Ada Lovelace", email: "ada@example.com" };

export function fakeState(overrides: Partial<FakeApiState> = {}): FakeApiState {
  return {
    token: "let-me-in",
    signedIn: true,
    me: { user: ME, role: "admin" },
    models: {
      models: [
        { id: "scripted/demo", label: "Offline demo", offline: true },
        { id: "anthropic/claude-sonnet-4-5", label: "Claude Sonnet 4.5", offline: false },
      ],
      defaultModel: "scripted/demo",
    },
    repositories: [],
    secrets: new Map(),
    sessions: [],
    sessionStates: new Map(),
    queues: new Map(),
    events: new Map(),
    roles: new Map(),
    pullRequests: new Map(),
    pullRequestTemplates: new Map(),
    automations: fakeAutomations(),
    participants: new Map(),
    calls: [],
    overrides: new Map(),
    nextId: 1,
    ...overrides,
  };
}

const error = (status: number, code: string, message: string): FakeResponse => ({ status, body: { error: { code, message } } });

export function handleFakeApi(state: FakeApiState, method: string, rawUrl: string, body: unknown): FakeResponse {
  const url = new URL(rawUrl, "http://lookout.test");
  const path = url.pathname;
  state.calls.push({ method, path: path + url.search, body });
  const override = state.overrides.get(`${method} ${path}`);
  if (override) return override;

  if (method === "GET" && path === "/auth/login") {
    if (url.searchParams.get("token") !== state.token)
      return error(401, "INVALID_TOKEN", "The token is invalid or expired. Request a new one.");
    state.signedIn = true;
    return { status: 302, headers: { location: "/", "set-cookie": "lookout_session=1; Path=/; HttpOnly" } };
  }
  if (method === "POST" && path === "/auth/login") {
    const token = isRecord(body) ? body.token : undefined;
    if (token !== state.token) return error(401, "INVALID_TOKEN", "The token is invalid or expired. Request a new one.");
    state.signedIn = true;
    return { status: 200, body: { user: state.me.user }, headers: { "set-cookie": "lookout_session=1; Path=/; HttpOnly" } };
  }
  if (method === "POST" && path === "/auth/logout") {
    state.signedIn = false;
    return { status: 204 };
  }
  if (!path.startsWith("/api/")) return error(404, "NOT_FOUND", "Nothing exists at this address.");
  if (!state.signedIn) return error(401, "UNAUTHENTICATED", "Sign in first: open the login URL printed by the start command.");

  if (method === "GET" && path === "/api/me") return { status: 200, body: state.me };
  if (method === "GET" && path === "/api/models") return { status: 200, body: state.models };
  const automations = handleAutomations(state, method, url, body);
  if (automations) return automations;

  // --- repositories ---
  if (path === "/api/repositories") {
    if (method === "GET") return { status: 200, body: { repositories: state.repositories } };
    if (method === "POST" && isRecord(body)) {
      const kind = body.kind === "github" ? "github" : "local";
      const name = String(body.name);
      const owner = kind === "github" ? String(body.owner) : null;
      const fullName = owner ? `${owner}/${name}` : name;
      if (state.repositories.some((repository) => repository.fullName === fullName)) {
        return error(409, "REPOSITORY_EXISTS", "A repository with this name is already registered.");
      }
      const now = Date.now();
      const repository: Repository = {
        id: `r_${state.nextId++}`,
        kind,
        fullName,
        name,
        owner,
        path: kind === "local" ? String(body.path) : null,
        defaultBranch: typeof body.defaultBranch === "string" ? body.defaultBranch : "main",
        description: typeof body.description === "string" ? body.description : null,
        createdAt: now,
        updatedAt: now,
      };
      state.repositories.push(repository);
      return { status: 201, body: { repository } };
    }
  }
  const repoSecret = /^\/api\/repositories\/([^/]+)\/secrets(?:\/([^/]+))?$/.exec(path);
  const globalSecret = /^\/api\/secrets(?:\/([^/]+))?$/.exec(path);
  if (repoSecret || globalSecret) {
    const scope = repoSecret ? (repoSecret[1] ?? "") : "global";
    const name = repoSecret ? repoSecret[2] : globalSecret?.[1];
    const secrets = state.secrets.get(scope) ?? new Map<string, number>();
    state.secrets.set(scope, secrets);
    if (method === "GET" && !name)
      return { status: 200, body: { secrets: [...secrets].map(([secretName, updatedAt]) => ({ name: secretName, updatedAt })) } };
    if (method === "PUT" && name) {
      secrets.set(decodeURIComponent(name), Date.now());
      return { status: 204 };
    }
    if (method === "DELETE" && name) {
      if (!secrets.delete(decodeURIComponent(name))) return error(404, "SECRET_NOT_FOUND", "No secret has this name in this scope.");
      return { status: 204 };
    }
  }
  const repoMatch = /^\/api\/repositories\/([^/]+)$/.exec(path);
  if (repoMatch) {
    const index = state.repositories.findIndex((repository) => repository.id === repoMatch[1]);
    if (index === -1) return error(404, "REPOSITORY_NOT_FOUND", "No repository has this id; register it first.");
    if (method === "DELETE") {
      state.repositories.splice(index, 1);
      return { status: 204 };
    }
    if (method === "PATCH" && isRecord(body)) {
      const current = state.repositories[index]!;
      const updated: Repository = {
        ...current,
        ...(typeof body.name === "string"
          ? { name: body.name, fullName: current.owner ? `${current.owner}/${body.name}` : body.name }
          : {}),
        ...(typeof body.defaultBranch === "string" ? { defaultBranch: body.defaultBranch } : {}),
        ...(typeof body.description === "string" ? { description: body.description } : {}),
        updatedAt: Date.now(),
      };
      state.repositories[index] = updated;
      return { status: 200, body: { repository: updated } };
    }
  }

  // --- sessions ---
  if (path === "/api/sessions" && method === "GET") {
    let list = state.sessions.filter((session) => session.archived === (url.searchParams.get("archived") === "true"));
    const status = url.searchParams.get("status");
    const repositoryId = url.searchParams.get("repositoryId");
    const ownerId = url.searchParams.get("ownerId");
    const q = url.searchParams.get("q")?.toLowerCase();
    if (status) list = list.filter((session) => session.status === status);
    if (repositoryId) list = list.filter((session) => session.repositoryId === repositoryId);
    if (ownerId) list = list.filter((session) => session.owner.userId === ownerId);
    if (q) list = list.filter((session) => session.title.toLowerCase().includes(q));
    list = [...list].sort((a, b) => b.lastActivityAt - a.lastActivityAt);
    const limit = Number(url.searchParams.get("limit") ?? 25);
    const start = Number(url.searchParams.get("cursor") ?? 0);
    const page = list.slice(start, start + limit);
    return { status: 200, body: { sessions: page, nextCursor: start + limit < list.length ? String(start + limit) : null } };
  }
  if (path === "/api/sessions" && method === "POST" && isRecord(body)) {
    const request = body as CreateSessionRequest;
    const repository = state.repositories.find((candidate) => candidate.id === request.repositoryId);
    if (!repository) return error(404, "REPOSITORY_NOT_FOUND", "No repository has this id; register it first.");
    const now = Date.now();
    const id = `s_${state.nextId++}`;
    const summary: SessionSummary = {
      id,
      title: request.title ?? (request.prompt ?? "Untitled").slice(0, 60),
      repositoryId: repository.id,
      repositoryName: repository.fullName,
      status: "created",
      archived: false,
      owner: state.me.user,
      model: request.model ?? state.models.defaultModel,
      costUsd: 0,
      createdAt: now,
      updatedAt: now,
      lastActivityAt: now,
    };
    state.sessions.unshift(summary);
    state.sessionStates.set(id, toState(summary));
    return { status: 201, body: { session: summary, promptId: request.prompt ? `p_${state.nextId++}` : undefined } };
  }
  const sessionMatch = /^\/api\/sessions\/([^/]+)(?:\/(.+))?$/.exec(path);
  if (sessionMatch) {
    const id = sessionMatch[1] ?? "";
    const rest = sessionMatch[2];
    const session = state.sessionStates.get(id);
    if (!session) return error(404, "SESSION_NOT_FOUND", "No session has this id.");
    if (!rest && method === "GET") {
      const events = state.events.get(id) ?? [];
      const detail: SessionDetail = {
        session,
        role: state.roles.get(id) ?? "owner",
        queue: state.queues.get(id) ?? [],
        presence: [],
        latestSeq: events.at(-1)?.seq ?? 0,
      };
      return { status: 200, body: detail };
    }
    if (!rest && method === "PATCH" && isRecord(body) && typeof body.title === "string") {
      const renamed = { ...session, title: body.title, updatedAt: Date.now() };
      state.sessionStates.set(id, renamed);
      return { status: 200, body: { session: renamed } };
    }
    if (rest === "pull-request" && method === "GET") {
      const pullRequest = state.pullRequests.get(id);
      if (!pullRequest) return error(404, "PULL_REQUEST_NOT_FOUND", "This session has no pull request yet; open one first.");
      return { status: 200, body: { pullRequest } };
    }
    if (rest === "pull-request" && method === "POST" && isRecord(body)) {
      const existing = state.pullRequests.get(id);
      const template = existing ?? state.pullRequestTemplates.get(id);
      if (!template) return error(409, "BRANCH_NOT_PUSHED", `The branch ${session.branch} has not been pushed to the repository yet.`);
      const pullRequest: PullRequest = {
        ...template,
        ...(typeof body.title === "string" ? { title: body.title } : {}),
        ...(typeof body.body === "string" ? { body: body.body } : {}),
        draft: typeof body.draft === "boolean" ? body.draft : template.draft,
      };
      state.pullRequests.set(id, pullRequest);
      return { status: existing ? 200 : 201, body: { pullRequest, created: !existing } };
    }
    if (rest === "pull-request/merge" && method === "POST") {
      const pullRequest = state.pullRequests.get(id);
      if (!pullRequest) return error(404, "PULL_REQUEST_NOT_FOUND", "This session has no pull request yet; open one first.");
      const merged: PullRequest = {
        ...pullRequest,
        state: "merged",
        mergeSha: "f".repeat(40),
        mergedAt: Date.now(),
        updatedAt: Date.now(),
      };
      state.pullRequests.set(id, merged);
      return { status: 200, body: { pullRequest: merged } };
    }
    if (rest === "participants" && method === "GET") return { status: 200, body: { participants: state.participants.get(id) ?? [] } };
    if (rest?.startsWith("participants/") && method === "PUT" && isRecord(body)) {
      const userId = decodeURIComponent(rest.slice("participants/".length));
      const participants = state.participants.get(id) ?? [];
      if ((state.roles.get(id) ?? "owner") !== "owner") return error(403, "FORBIDDEN", "Only the session's owner can change roles.");
      if (!participants.some((entry) => entry.participant.userId === userId)) return error(404, "USER_NOT_FOUND", "No user has this id.");
      const role: ParticipantRole = body.role === "viewer" ? "viewer" : "member";
      const updated = participants.map((entry) => (entry.participant.userId === userId ? { ...entry, role } : entry));
      state.participants.set(id, updated);
      return { status: 200, body: { participants: updated } };
    }
    if (rest?.startsWith("push-approvals/") && method === "POST") return { status: 200, body: { ok: true } };
    if (rest === "prompts" && method === "POST") return { status: 202, body: { promptId: `p_${state.nextId++}`, duplicate: false } };
    if (rest?.startsWith("prompts/") && method === "DELETE") {
      const promptId = rest.slice("prompts/".length);
      const queue = state.queues.get(id) ?? [];
      if (!queue.some((prompt) => prompt.promptId === promptId)) return error(404, "PROMPT_NOT_FOUND", "No pending prompt has this id.");
      state.queues.set(
        id,
        queue.filter((prompt) => prompt.promptId !== promptId),
      );
      return { status: 204 };
    }
    if (rest === "stop" && method === "POST") return { status: 202, body: {} };
    if ((rest === "archive" || rest === "unarchive") && method === "POST") {
      const archived = rest === "archive";
      state.sessionStates.set(id, { ...session, archived, updatedAt: Date.now() });
      state.sessions = state.sessions.map((summary) => (summary.id === id ? { ...summary, archived } : summary));
      return { status: 204 };
    }
    if (rest === "events" && method === "GET") {
      const after = Number(url.searchParams.get("after") ?? 0);
      const events = (state.events.get(id) ?? []).filter((event) => event.seq > after);
      const latestSeq = state.events.get(id)?.at(-1)?.seq ?? 0;
      return { status: 200, body: { events, nextAfter: latestSeq, latestSeq } };
    }
    if (rest === "ws-token" && method === "POST") {
      return { status: 200, body: { token: "ws1", expiresAt: Date.now() + 60_000, path: `/api/sessions/${id}/ws?token=ws1` } };
    }
  }
  return error(404, "NOT_FOUND", "Nothing exists at this address.");
}

export function toState(summary: SessionSummary, overrides: Partial<SessionState> = {}): SessionState {
  return {
    id: summary.id,
    title: summary.title,
    repositoryId: summary.repositoryId,
    repositoryName: summary.repositoryName,
    baseBranch: "main",
    branch: `lookout/${summary.id}`,
    model: summary.model,
    reasoningEffort: null,
    status: summary.status,
    archived: summary.archived,
    owner: summary.owner,
    parentSessionId: null,
    origin: { kind: "dashboard" },
    sandboxStatus: "none",
    costUsd: summary.costUsd,
    createdAt: summary.createdAt,
    updatedAt: summary.updatedAt,
    ...overrides,
  };
}

/** A `fetch` that answers from the fake API. */
export function fakeFetch(state: FakeApiState): typeof fetch {
  return async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.toString() : input.url;
    const method = init?.method ?? "GET";
    const body = typeof init?.body === "string" ? (JSON.parse(init.body) as unknown) : undefined;
    const response = handleFakeApi(state, method, url, body);
    const text = response.body === undefined ? null : JSON.stringify(response.body);
    return new Response(response.status === 204 ? null : text, {
      status: response.status === 302 ? 200 : response.status,
      headers: { "content-type": "application/json", ...(response.headers ?? {}) },
    });
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
