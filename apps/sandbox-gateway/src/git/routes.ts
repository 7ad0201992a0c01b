import { GitBranchesRequest, GitCheckRequest, GitCompareRequest, GitMergeRequest, LookoutError, summarizeIssues } from "@lookout/protocol";
import type { z } from "zod";
import { compareBranches, type GitEnvironment, listBranches, mergeBranches } from "./repo-ops";

/**
 * `/v1/git/*`: operations on host repositories for local pull requests, called by the control
 * plane with signed requests (the caller is authenticated before this runs).
 */
export async function routeGit(
  request: { method: string; path: string; body: Uint8Array },
  env: GitEnvironment,
): Promise<{ status: number; body: unknown }> {
  if (request.method !== "POST") throw new LookoutError("NOT_FOUND", `No route for ${request.method} ${request.path}.`);
  switch (request.path) {
    case "/v1/git/branches": {
      const input = parse(GitBranchesRequest, request.body);
      return { status: 200, body: { branches: await listBranches(input.repositoryPath, env) } };
    }
    case "/v1/git/check": {
      const input = parse(GitCheckRequest, request.body);
      return { status: 200, body: { repositoryPath: await env.roots.check(input.repositoryPath) } };
    }
    case "/v1/git/compare":
      return { status: 200, body: await compareBranches(parse(GitCompareRequest, request.body), env) };
    case "/v1/git/merge":
      return { status: 200, body: await mergeBranches(parse(GitMergeRequest, request.body), env) };
    default:
      throw new LookoutError("NOT_FOUND", `No route for ${request.method} ${request.path}.`);
  }
}

function parse<T extends z.ZodType>(schema: T, body: Uint8Array): z.infer<T> {
  let data: unknown;
  try {
    data = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new LookoutError("INVALID_JSON");
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new LookoutError("VALIDATION_FAILED", summarizeIssues(parsed.error));
  return parsed.data;
}
