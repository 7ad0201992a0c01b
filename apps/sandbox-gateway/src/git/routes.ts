import { GitBranchesRequest, GitCheckRequest, GitCompareRequest, GitMergeRequest, LookoutError, summarizeIssues } from "@lookout/protocol";
import { Hono } from "hono";
import type { z } from "zod";
import { type GatewayEnv, jsonResponse } from "../http";
import { compareBranches, type GitEnvironment, listBranches, mergeBranches } from "./repo-ops";

/**
 * `/v1/git/*`: operations on host repositories for local pull requests, called by the control
 * plane with signed requests (mounted behind the signature check, like the rest of `/v1`).
 */
export function gitRoutes(env: GitEnvironment): Hono<GatewayEnv> {
  return new Hono<GatewayEnv>()
    .post("/branches", async (c) => {
      const input = parse(GitBranchesRequest, c.var.body);
      return jsonResponse(200, { branches: await listBranches(input.repositoryPath, env) });
    })
    .post("/check", async (c) => {
      const input = parse(GitCheckRequest, c.var.body);
      return jsonResponse(200, { repositoryPath: await env.roots.check(input.repositoryPath) });
    })
    .post("/compare", async (c) => jsonResponse(200, await compareBranches(parse(GitCompareRequest, c.var.body), env)))
    .post("/merge", async (c) => jsonResponse(200, await mergeBranches(parse(GitMergeRequest, c.var.body), env)));
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
