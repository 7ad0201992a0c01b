import { LookoutError } from "@lookout/protocol";
import { afterEach, describe, expect, it, vi } from "vitest";
import { lazy } from "../../src/lazy";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("lazy", () => {
  it("loads nothing until first asked, then loads once however often it is asked", async () => {
    const load = vi.fn(() => Promise.resolve({ answer: 42 }));
    const sdk = lazy("test", load);
    expect(load).not.toHaveBeenCalled();
    const [first, second] = await Promise.all([sdk(), sdk()]);
    expect(await sdk()).toBe(first);
    expect(second).toBe(first);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it("turns a failed load into INTERNAL without the loader's message, and tries again on the next call", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const load = vi
      .fn<() => Promise<{ answer: number }>>()
      .mockRejectedValueOnce(new Error("No such module /secret/path/sdk.js"))
      .mockResolvedValueOnce({ answer: 42 });
    const sdk = lazy("test", load);
    const failure: unknown = await sdk().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(LookoutError);
    expect(failure).toMatchObject({ code: "INTERNAL", status: 500, details: undefined });
    expect(JSON.stringify((failure as LookoutError).toBody())).not.toContain("/secret/path");
    expect(await sdk()).toEqual({ answer: 42 });
    expect(load).toHaveBeenCalledTimes(2);
  });
});
