import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { type ErrorBody, LookoutError } from "@lookout/protocol";
import { log } from "../log";

/** Turns any thrown value into the registry's JSON error body. The only place errors become responses. */
export function errorResponse(error: unknown, c: Context): Response {
  if (error instanceof LookoutError) {
    return c.json(error.toBody(), error.status as 400);
  }
  if (error instanceof HTTPException) {
    const code = error.status === 404 ? "NOT_FOUND" : error.status === 413 ? "PAYLOAD_TOO_LARGE" : "BAD_REQUEST";
    const body: ErrorBody = { error: { code, message: error.message || code } };
    return c.json(body, error.status);
  }
  log.error("unhandled error", { path: c.req.path, method: c.req.method, error });
  const body: ErrorBody = { error: { code: "INTERNAL", message: "Something went wrong on our side. Try again." } };
  return c.json(body, 500);
}
