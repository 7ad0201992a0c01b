import type * as LinearSdk from "@linear/sdk";
import type { LinearClient } from "@linear/sdk";
import { LookoutError, sha256Hex } from "@lookout/protocol";
import { z } from "zod";
import type { Env } from "../../env";
import { LinearInstallations } from "./installations";

/** Linear's GraphQL endpoint unless `LINEAR_API_URL` points elsewhere (a fake in tests). */
export const LINEAR_API_URL = "https://api.linear.app/graphql";
/** Longest activity body sent; Linear renders Markdown, and a report is a summary. */
const MAX_BODY_CHARS = 8_000;

export type ActivityContent =
  | { type: "thought" | "response" | "error" | "elicitation"; body: string }
  | { type: "action"; action: string; parameter: string; result?: string };

export interface ActivityOptions {
  /** Offers these values to pick from (an elicitation with Linear's `select` signal). */
  select?: string[];
  /** Linear replaces it with the next activity (a `thought` or `action` that is only a status). */
  ephemeral?: boolean;
}

export interface RepositorySuggestion {
  repositoryFullName: string;
  confidence: number;
}

/** An issue's project and labels, for the repository rules (the webhook carries only the team). */
export interface IssueContext {
  projectId: string | null;
  labels: string[];
}

const IssueContextData = z.object({
  issue: z.object({
    project: z.object({ id: z.string() }).nullable().optional(),
    labels: z.object({ nodes: z.array(z.object({ name: z.string() })) }),
  }),
});

const ISSUE_CONTEXT_QUERY = `query lookoutIssueContext($id: String!) {
  issue(id: $id) { project { id } labels { nodes { name } } }
}`;

const Installation = z.object({
  viewer: z.object({ id: z.string() }),
  organization: z.object({ id: z.string(), name: z.string() }),
});
export type Installation = z.infer<typeof Installation>;

/** The SDK is large; it is loaded when Linear is first called, not whenever the app's routes are. */
type Sdk = typeof LinearSdk;

/**
 * Lookout's side of Linear's Agent API, on the official SDK. Every activity carries an id derived
 * from a key the caller names (the outbox report's idempotency key, the delivery), so an activity
 * sent twice after a retry is one activity in Linear.
 */
export class LinearAgent {
  private constructor(
    private readonly module: Sdk,
    private readonly sdk: LinearClient,
  ) {}

  /** A client acting as the app installed in `organizationId`. */
  static async forOrganization(env: Env, organizationId: string, now: number = Date.now()): Promise<LinearAgent> {
    return LinearAgent.withToken(env, await new LinearInstallations(env).accessToken(organizationId, now));
  }

  static async withToken(env: Env, accessToken: string): Promise<LinearAgent> {
    const module = await import("@linear/sdk");
    return new LinearAgent(module, new module.LinearClient({ accessToken, apiUrl: env.LINEAR_API_URL ?? LINEAR_API_URL }));
  }

  async activity(agentSessionId: string, key: string, content: ActivityContent, options: ActivityOptions = {}): Promise<void> {
    const clipped = "body" in content ? { ...content, body: clip(content.body) } : { ...content, parameter: clip(content.parameter) };
    const id = await activityId(key);
    const select = options.select
      ? {
          signal: this.module.AgentActivitySignal.Select,
          signalMetadata: { options: options.select.map((value) => ({ label: value, value })) },
        }
      : {};
    const ephemeral = options.ephemeral ? { ephemeral: true } : {};
    await call("post an agent activity", () =>
      this.sdk.createAgentActivity({ id, agentSessionId, content: clipped, ...select, ...ephemeral }),
    );
  }

  /** Who the token acts as: the app user and its workspace (asked once, right after the install). */
  async installation(): Promise<Installation> {
    const response = await call("read the installation", () =>
      this.sdk.client.rawRequest("query lookoutInstallation { viewer { id } organization { id name } }"),
    );
    const parsed = Installation.safeParse(response.data);
    if (!parsed.success) throw new LookoutError("LINEAR_UPSTREAM", "Linear did not say which workspace installed Lookout.");
    return parsed.data;
  }

  /** Shows the Lookout session as the agent session's external link (it also marks the session responsive). */
  async setExternalUrl(agentSessionId: string, url: string): Promise<void> {
    await call("set the agent session's link", () =>
      this.sdk.updateAgentSession(agentSessionId, { externalUrls: [{ label: "Lookout session", url }] }),
    );
  }

  /**
   * Linear's guess at which of `candidates` (full names of repositories on the GitHub at `hostname`:
   * `github.com` or an Enterprise Server's host) the issue is about, best first.
   */
  async repositorySuggestions(
    issueId: string,
    agentSessionId: string,
    hostname: string,
    candidates: string[],
  ): Promise<RepositorySuggestion[]> {
    if (candidates.length === 0) return [];
    const payload = await call("ask for repository suggestions", () =>
      this.sdk.issueRepositorySuggestions(
        candidates.map((repositoryFullName) => ({ hostname, repositoryFullName })),
        issueId,
        { agentSessionId },
      ),
    );
    return payload.suggestions
      .map((suggestion) => ({ repositoryFullName: suggestion.repositoryFullName, confidence: suggestion.confidence }))
      .sort((a, b) => b.confidence - a.confidence);
  }

  async issueContext(issueId: string): Promise<IssueContext> {
    const response = await call("read the issue", () => this.sdk.client.rawRequest(ISSUE_CONTEXT_QUERY, { id: issueId }));
    const parsed = IssueContextData.safeParse(response.data);
    if (!parsed.success) throw new LookoutError("LINEAR_UPSTREAM", `Linear answered issue ${issueId} without its project and labels.`);
    return { projectId: parsed.data.issue.project?.id ?? null, labels: parsed.data.issue.labels.nodes.map((label) => label.name) };
  }
}

/** Runs one SDK call; whatever it throws (network, GraphQL errors) becomes `LINEAR_UPSTREAM`. */
async function call<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof LookoutError) throw error;
    throw new LookoutError("LINEAR_UPSTREAM", `Could not ${what} in Linear: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function clip(text: string): string {
  return text.length > MAX_BODY_CHARS ? `${text.slice(0, MAX_BODY_CHARS - 1)}…` : text;
}

/** A UUID (version 8, RFC 9562) derived from `key`: the same key always names the same activity. */
export async function activityId(key: string): Promise<string> {
  const hex = await sha256Hex(`linear-activity\n${key}`);
  const variant = ((parseInt(hex[16] ?? "0", 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
