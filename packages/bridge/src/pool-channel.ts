import { GitCredentialResponse, PoolClaim, type PoolBridgeReport } from "@lookout/protocol";
import { errorMessage, type Logger } from "./logger";
import type { GitCredentialSource } from "./scm/git-credentials";

/** How long the gateway may hold one claim poll (it answers 204 after at most 25 s). */
const CLAIM_POLL_MS = 25_000;
/** A poll that gets no answer this long after its own limit has been lost; the next one starts. */
const CLAIM_POLL_SLACK_MS = 10_000;
/** How long a report or credential request may take. */
const REQUEST_TIMEOUT_MS = 15_000;
/** Pause before polling again after a failed poll (the gateway restarting, the relay busy). */
const RETRY_DELAY_MS = 1_000;

/** The gateway let this pool sandbox go (retired, or its token no longer opens the channel). */
export class PoolEnded extends Error {
  override readonly name = "PoolEnded";
}

/**
 * A warm-pool bridge's channel to the gateway (`LOOKOUT_POOL_URL`, through the sandbox's relay):
 * progress reports, read-only git credentials for the pool's clone, and the long poll that
 * delivers the claim. Every request carries the pool token, which, like a session's sandbox token,
 * lives only in the bridge's memory; the claim hands over the session's token the same way.
 */
export class PoolChannel {
  constructor(
    private readonly url: string,
    private readonly poolToken: string,
    private readonly logger: Logger,
    private readonly fetcher: typeof fetch = fetch,
  ) {}

  /** Reports the bridge's phase; a report that cannot be delivered is logged, not fatal. */
  async report(report: PoolBridgeReport): Promise<void> {
    try {
      const response = await this.request("report", { method: "POST", body: JSON.stringify(report) });
      if (!response.ok) this.logger.warn("pool report refused", { phase: report.phase, status: response.status });
    } catch (error) {
      this.logger.warn("pool report failed", { phase: report.phase, error: errorMessage(error) });
    }
  }

  /** Git credentials for the pool's clone of a local repository (read-only, minted by the gateway). */
  readonly credentials: GitCredentialSource = async () => {
    const response = await this.request("git-credentials", { method: "POST", body: "{}" });
    if (!response.ok)
      throw new Error(`The gateway refused a pool git credential (${response.status}): ${(await response.text()).slice(0, 300)}`);
    return GitCredentialResponse.parse(await response.json());
  };

  /** Polls until a session claims this sandbox; resolves with the claim. */
  async waitForClaim(signal?: AbortSignal): Promise<PoolClaim> {
    for (;;) {
      signal?.throwIfAborted();
      try {
        const response = await this.request(`claim?waitMs=${CLAIM_POLL_MS}`, {
          method: "GET",
          timeoutMs: CLAIM_POLL_MS + CLAIM_POLL_SLACK_MS,
        });
        if (response.status === 200) return PoolClaim.parse(await response.json());
        if (response.status !== 204) {
          throw new PoolEnded(`The gateway ended this pool sandbox's wait (${response.status}): ${(await response.text()).slice(0, 300)}`);
        }
      } catch (error) {
        if (error instanceof PoolEnded) throw error;
        this.logger.warn("pool claim poll failed", { error: errorMessage(error) });
        await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
      }
    }
  }

  private request(path: string, init: { method: string; body?: string; timeoutMs?: number }): Promise<Response> {
    return this.fetcher(`${this.url}/${path}`, {
      method: init.method,
      headers: { authorization: `Bearer ${this.poolToken}`, ...(init.body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(init.body !== undefined ? { body: init.body } : {}),
      signal: AbortSignal.timeout(init.timeoutMs ?? REQUEST_TIMEOUT_MS),
    });
  }
}
