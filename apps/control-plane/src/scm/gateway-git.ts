import {
  type ErrorBody,
  GitBranchesResponse,
  GitCheckResponse,
  type GitCompareRequest,
  GitCompareResponse,
  type GitMergeRequest,
  GitMergeResponse,
  isErrorCode,
  LookoutError,
  type PullRequestReview,
  signRequest,
} from "@lookout/protocol";
import type { z } from "zod";
import type { Env } from "../env";
import { gatewayFetcher } from "../gateway-container";

/**
 * The sandbox gateway's git operations on host repositories (`/v1/git/*`), called with signed
 * requests like the rest of `/v1`. The gateway's registry errors (`MERGE_CONFLICT`,
 * `BRANCH_NOT_PUSHED`, …) come back as the same `LookoutError`s.
 */
export class GatewayGit {
  constructor(
    private readonly baseUrl: string,
    private readonly secret: string | undefined,
    private readonly fetcher: typeof fetch,
  ) {}

  static fromEnv(env: Pick<Env, "GATEWAY_URL" | "GATEWAY_SERVICE_SECRET" | "GATEWAY" | "GATEWAY_CONTAINER">): GatewayGit {
    return new GatewayGit(env.GATEWAY_URL, env.GATEWAY_SERVICE_SECRET, gatewayFetcher(env));
  }

  /** The canonical path of a host repository the gateway admits (a git repository under its roots). */
  async check(repositoryPath: string): Promise<string> {
    return (await this.call("/v1/git/check", { repositoryPath }, GitCheckResponse)).repositoryPath;
  }

  async branches(repositoryPath: string): Promise<{ name: string; sha: string }[]> {
    return (await this.call("/v1/git/branches", { repositoryPath }, GitBranchesResponse)).branches;
  }

  compare(request: GitCompareRequest): Promise<PullRequestReview> {
    return this.call("/v1/git/compare", request, GitCompareResponse);
  }

  merge(request: GitMergeRequest): Promise<z.infer<typeof GitMergeResponse>> {
    return this.call("/v1/git/merge", request, GitMergeResponse);
  }

  private async call<T extends z.ZodType>(path: string, body: unknown, schema: T): Promise<z.infer<T>> {
    if (!this.secret)
      throw new LookoutError("SERVICE_NOT_CONFIGURED", "GATEWAY_SERVICE_SECRET is not set, so local repositories cannot be reached.");
    const payload = JSON.stringify(body);
    const headers = await signRequest({ service: "control-plane", method: "POST", pathAndQuery: path, body: payload }, this.secret);
    let response: Response;
    try {
      response = await this.fetcher(new URL(path, this.baseUrl), {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: payload,
      });
    } catch (error) {
      throw new LookoutError("SANDBOX_UNAVAILABLE", `The sandbox gateway is unreachable: ${String(error)}`);
    }
    const data: unknown = await response.json().catch(() => null);
    if (response.ok) return schema.parse(data);
    const error = (data as Partial<ErrorBody> | null)?.error;
    if (error && isErrorCode(error.code)) throw new LookoutError(error.code, error.message, error.details);
    throw new LookoutError("INTERNAL", `The gateway answered ${response.status}.`);
  }
}
