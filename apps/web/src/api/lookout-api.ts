import { z } from "zod";
import {
  Author,
  Automation,
  AutomationRun,
  CronPreviewResponse,
  EventsPage,
  Id,
  ListSessionsResponse,
  ListAutomationsResponse,
  ListRunsResponse,
  Me,
  ModelsResponse,
  ParticipantRole,
  PullRequest,
  PullRequestResponse,
  Repository,
  SecretListResponse,
  SendPromptResponse,
  SentrySettingsView,
  SessionDetail,
  SessionState,
  SessionSummary,
  TestWebhookResponse,
  WebhookKeyResponse,
  WebhookSettingsView,
  WsTokenResponse,
  type CreateAutomationRequest,
  type CreatePullRequestRequest,
  type CreateSessionRequest,
  type PutSentrySettingsRequest,
  type PutWebhookSettingsRequest,
  type ReasoningEffort,
  type RepositoryInput,
  type SessionStatus,
  type UpdateAutomationRequest,
} from "@lookout/protocol";
import { ApiError } from "./api-error";
import type { HttpClient } from "./http";
import { LooseEvent, parseEvents } from "./server-frame";

const RepositoriesResponse = z.object({ repositories: z.array(Repository) });
const RepositoryResponse = z.object({ repository: Repository });
const CreateSessionResponse = z.object({ session: SessionSummary, promptId: Id.optional() });
const LoginResponse = z.object({ user: Author });
const SessionResponse = z.object({ session: SessionState });
const PullRequestOnly = z.object({ pullRequest: PullRequest });
const AutomationResponse = z.object({ automation: Automation });
/** "Run now": how the delivery went (`started`, `skipped`, …) and the run it made, if any. */
const RunNowResponse = z.object({ status: z.string(), reason: z.string().nullable(), run: AutomationRun.nullable() });
const WebhookSettingsResponse = z.object({ settings: WebhookSettingsView });
const SentrySettingsResponse = z.object({ settings: SentrySettingsView });
const ParticipantsResponse = z.object({
  participants: z.array(z.object({ participant: Author, role: ParticipantRole, joinedAt: z.number() })),
});
/** `EventsPage` with each event checked on its own (see `parseEvents`). */
const LooseEventsPage = EventsPage.extend({ events: z.array(LooseEvent) });

export type MeResponse = z.infer<typeof Me>;
export type Models = z.infer<typeof ModelsResponse>;
export type Model = Models["models"][number];
export type Secret = z.infer<typeof SecretListResponse>["secrets"][number];
export type WsToken = z.infer<typeof WsTokenResponse>;

/** `RepositoryUpdate` as sent: any subset of the editable fields. */
export interface RepositoryPatch {
  name?: string;
  defaultBranch?: string;
  description?: string;
}

/** Where a secret lives: for every session, or only for one repository's sessions. */
export type SecretScope = { kind: "global" } | { kind: "repository"; repositoryId: string };

export interface ListSessionsParams {
  status?: SessionStatus | undefined;
  repositoryId?: string | undefined;
  ownerId?: string | undefined;
  q?: string | undefined;
  archived?: boolean | undefined;
  cursor?: string | undefined;
  limit?: number | undefined;
}

export interface SendPromptParams {
  requestId: string;
  text: string;
  model?: string | undefined;
  reasoningEffort?: ReasoningEffort | undefined;
}

/** Every REST endpoint of the control plane the dashboard uses, typed and validated. */
export class LookoutApi {
  readonly automations: AutomationsApi;

  constructor(readonly http: HttpClient) {
    this.automations = new AutomationsApi(http);
  }

  // --- auth ---
  me(signal?: AbortSignal) {
    return this.http.get("/api/me", { schema: Me, signal });
  }
  login(token: string) {
    return this.http.post("/auth/login", { body: { token }, schema: LoginResponse });
  }
  logout() {
    return this.http.post("/auth/logout");
  }

  // --- models ---
  models(signal?: AbortSignal) {
    return this.http.get("/api/models", { schema: ModelsResponse, signal });
  }

  // --- repositories ---
  async listRepositories(signal?: AbortSignal) {
    return (await this.http.get("/api/repositories", { schema: RepositoriesResponse, signal })).repositories;
  }
  async createRepository(input: RepositoryInput) {
    return (await this.http.post("/api/repositories", { body: input, schema: RepositoryResponse })).repository;
  }
  async updateRepository(id: string, patch: RepositoryPatch) {
    return (await this.http.patch(`/api/repositories/${enc(id)}`, { body: patch, schema: RepositoryResponse })).repository;
  }
  deleteRepository(id: string) {
    return this.http.delete(`/api/repositories/${enc(id)}`);
  }

  // --- secrets (names only; values never come back) ---
  async listSecrets(scope: SecretScope, signal?: AbortSignal) {
    return (await this.http.get(secretsPath(scope), { schema: SecretListResponse, signal })).secrets;
  }
  setSecret(scope: SecretScope, name: string, value: string) {
    return this.http.put(`${secretsPath(scope)}/${enc(name)}`, { body: { value } });
  }
  deleteSecret(scope: SecretScope, name: string) {
    return this.http.delete(`${secretsPath(scope)}/${enc(name)}`);
  }

  // --- sessions ---
  createSession(request: CreateSessionRequest) {
    return this.http.post("/api/sessions", { body: request, schema: CreateSessionResponse });
  }
  listSessions(params: ListSessionsParams, signal?: AbortSignal) {
    const { archived, ...rest } = params;
    return this.http.get("/api/sessions", {
      schema: ListSessionsResponse,
      signal,
      query: { ...rest, archived: archived === undefined ? undefined : String(archived) },
    });
  }
  getSession(id: string, signal?: AbortSignal) {
    return this.http.get(`/api/sessions/${enc(id)}`, { schema: SessionDetail, signal });
  }
  async renameSession(id: string, title: string) {
    return (await this.http.patch(`/api/sessions/${enc(id)}`, { body: { title }, schema: SessionResponse })).session;
  }
  sendPrompt(id: string, prompt: SendPromptParams) {
    return this.http.post(`/api/sessions/${enc(id)}/prompts`, { body: prompt, schema: SendPromptResponse });
  }
  cancelPrompt(id: string, promptId: string) {
    return this.http.delete(`/api/sessions/${enc(id)}/prompts/${enc(promptId)}`);
  }
  stop(id: string) {
    return this.http.post(`/api/sessions/${enc(id)}/stop`);
  }
  archive(id: string) {
    return this.http.post(`/api/sessions/${enc(id)}/archive`);
  }
  unarchive(id: string) {
    return this.http.post(`/api/sessions/${enc(id)}/unarchive`);
  }
  /** A page of the event log after `after`; `highestSeq` counts events too new to parse. */
  async events(id: string, after: number, limit?: number, signal?: AbortSignal) {
    const page = await this.http.get(`/api/sessions/${enc(id)}/events`, { schema: LooseEventsPage, signal, query: { after, limit } });
    return { ...parseEvents(page.events), nextAfter: page.nextAfter, latestSeq: page.latestSeq };
  }

  // --- source control ---
  /** The session's pull request, or null while it has none. */
  async pullRequest(id: string, signal?: AbortSignal): Promise<PullRequest | null> {
    try {
      return (await this.http.get(`/api/sessions/${enc(id)}/pull-request`, { schema: PullRequestOnly, signal })).pullRequest;
    } catch (error) {
      if (error instanceof ApiError && error.code === "PULL_REQUEST_NOT_FOUND") return null;
      throw error;
    }
  }
  /** Opens the session branch's pull request, or updates the open one. */
  createPullRequest(id: string, request: CreatePullRequestRequest = {}) {
    return this.http.post(`/api/sessions/${enc(id)}/pull-request`, { body: request, schema: PullRequestResponse });
  }
  /** Merges a local pull request into its base branch. */
  async mergePullRequest(id: string, message?: string) {
    const body = message ? { message } : {};
    return (await this.http.post(`/api/sessions/${enc(id)}/pull-request/merge`, { body, schema: PullRequestOnly })).pullRequest;
  }
  /** Approves or rejects a push that waits for a person (workflow files). */
  decidePush(id: string, approvalId: string, decision: "approve" | "reject") {
    return this.http.post(`/api/sessions/${enc(id)}/push-approvals/${enc(approvalId)}`, { body: { decision } });
  }

  /** Everyone who has joined the session, with their roles. */
  async participants(id: string, signal?: AbortSignal) {
    return (await this.http.get(`/api/sessions/${enc(id)}/participants`, { schema: ParticipantsResponse, signal })).participants;
  }
  /** The owner lets a participant steer (`member`) or only watch (`viewer`); answers everyone's roles. */
  async setParticipantRole(id: string, userId: string, role: "member" | "viewer") {
    const path = `/api/sessions/${enc(id)}/participants/${enc(userId)}`;
    return (await this.http.put(path, { body: { role }, schema: ParticipantsResponse })).participants;
  }

  wsToken(id: string, signal?: AbortSignal) {
    return this.http.post(`/api/sessions/${enc(id)}/ws-token`, { schema: WsTokenResponse, signal });
  }
}

/** `/api/automations` and the trigger settings under `/api/triggers`. */
export class AutomationsApi {
  constructor(readonly http: HttpClient) {}

  async list(signal?: AbortSignal) {
    return (await this.http.get("/api/automations", { schema: ListAutomationsResponse, signal })).automations;
  }
  async get(id: string, signal?: AbortSignal) {
    return (await this.http.get(`/api/automations/${enc(id)}`, { schema: AutomationResponse, signal })).automation;
  }
  async create(request: CreateAutomationRequest) {
    return (await this.http.post("/api/automations", { body: request, schema: AutomationResponse })).automation;
  }
  async update(id: string, patch: UpdateAutomationRequest) {
    return (await this.http.patch(`/api/automations/${enc(id)}`, { body: patch, schema: AutomationResponse })).automation;
  }
  delete(id: string) {
    return this.http.delete(`/api/automations/${enc(id)}`);
  }
  async pause(id: string) {
    return (await this.http.post(`/api/automations/${enc(id)}/pause`, { schema: AutomationResponse })).automation;
  }
  async resume(id: string) {
    return (await this.http.post(`/api/automations/${enc(id)}/resume`, { schema: AutomationResponse })).automation;
  }
  /** "Run now"; the same `requestId` twice is one run. */
  runNow(id: string, requestId: string) {
    return this.http.post(`/api/automations/${enc(id)}/run`, { body: { requestId }, schema: RunNowResponse });
  }
  /** A page of runs, newest first; pass `nextBefore` as `before` for the next. */
  runs(id: string, params: { before?: string | undefined; limit?: number | undefined }, signal?: AbortSignal) {
    return this.http.get(`/api/automations/${enc(id)}/runs`, { schema: ListRunsResponse, signal, query: params });
  }
  cronPreview(expression: string, timeZone: string, signal?: AbortSignal) {
    return this.http.get("/api/automations/cron-preview", { schema: CronPreviewResponse, signal, query: { expression, timeZone } });
  }

  async webhookSettings(id: string, signal?: AbortSignal) {
    return (await this.http.get(`/api/triggers/webhooks/${enc(id)}/settings`, { schema: WebhookSettingsResponse, signal })).settings;
  }
  async putWebhookSettings(id: string, settings: PutWebhookSettingsRequest) {
    return (await this.http.put(`/api/triggers/webhooks/${enc(id)}/settings`, { body: settings, schema: WebhookSettingsResponse }))
      .settings;
  }
  /** Issues the webhook's key (or a new one in place of the old): the only time it is readable. */
  issueWebhookKey(id: string) {
    return this.http.post(`/api/triggers/webhooks/${enc(id)}/key`, { schema: WebhookKeyResponse });
  }
  /** Evaluates a sample payload against the saved conditions; nothing starts. */
  testWebhook(id: string, payload: unknown, headers: Record<string, string> = {}) {
    return this.http.post(`/api/triggers/webhooks/${enc(id)}/test`, { body: { payload, headers }, schema: TestWebhookResponse });
  }
  async sentrySettings(id: string, signal?: AbortSignal) {
    return (await this.http.get(`/api/triggers/sentry/${enc(id)}/settings`, { schema: SentrySettingsResponse, signal })).settings;
  }
  async putSentrySettings(id: string, settings: PutSentrySettingsRequest) {
    return (await this.http.put(`/api/triggers/sentry/${enc(id)}/settings`, { body: settings, schema: SentrySettingsResponse })).settings;
  }
}

function secretsPath(scope: SecretScope): string {
  return scope.kind === "global" ? "/api/secrets" : `/api/repositories/${enc(scope.repositoryId)}/secrets`;
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}
