import {
  GitBranchesResponse,
  GitCheckResponse,
  type GitCompareRequest,
  GitCompareResponse,
  type GitMergeRequest,
  GitMergeResponse,
  type PullRequestReview,
} from "@lookout/protocol";
import type { z } from "zod";
import type { Env } from "../env";
import { type GatewayEndpoint, signedGatewayCall } from "../gateway-call";
import { gatewayFetcher } from "../gateway-container";

/**
 * The sandbox gateway's git operations on host repositories (`/v1/git/*`), called with signed
 * requests like the rest of `/v1`. The gateway's registry errors (`MERGE_CONFLICT`,
 * `BRANCH_NOT_PUSHED`, …) come back as the same `LookoutError`s. A call has no limit of its own: a
 * merge or compare takes as long as the repository needs.
 */
export class GatewayGit {
  private readonly endpoint: GatewayEndpoint;

  constructor(baseUrl: string, secret: string | undefined, fetcher: typeof fetch) {
    this.endpoint = { baseUrl, secret, fetcher };
  }

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
    const data = await signedGatewayCall(this.endpoint, {
      method: "POST",
      path,
      body,
      unconfigured: "local repositories cannot be reached",
      otherwise: "INTERNAL",
      timeoutMs: null,
      omitUrl: true,
    });
    return schema.parse(data);
  }
}
