import { type ErrorCode, isErrorCode, LookoutError } from "@lookout/protocol";

/**
 * Durable Object RPC turns thrown errors into plain `Error`s and drops their fields, so session
 * methods return expected failures as values and the Worker turns them back into `LookoutError`s.
 */
export type RpcResult<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; message: string };

export async function capture<T>(work: () => T | Promise<T>): Promise<RpcResult<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    if (error instanceof LookoutError) return { ok: false, code: error.code, message: error.message };
    throw error;
  }
}

export async function unwrap<T>(result: Promise<RpcResult<T>>): Promise<T> {
  const settled = await result;
  if (settled.ok) return settled.value;
  throw new LookoutError(isErrorCode(settled.code) ? settled.code : "INTERNAL", settled.message);
}
