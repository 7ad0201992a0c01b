import { ImageBuildState, LookoutError, ProviderCapabilities, type ImageBuildRequest } from "@lookout/protocol";
import type { Env } from "../env";
import { signedGatewayCall } from "../gateway-call";
import { gatewayFetcher } from "../gateway-container";

/** The gateway's `/v1/images` (image builds run there, through the sandbox provider). */
export interface ImageGateway {
  /**
   * Whether this gateway builds images: its provider takes and restores snapshots. False too when
   * it cannot be asked or has no image API (an older gateway), so the schedule writes nothing.
   */
  available(): Promise<boolean>;
  start(request: ImageBuildRequest): Promise<ImageBuildState>;
  /** The build's state; null when the gateway does not know it (it restarted since). */
  get(buildId: string): Promise<ImageBuildState | null>;
  /**
   * Deletes a superseded image's snapshot from the provider; one already gone succeeds. Throws the
   * gateway's refusal (`CONFLICT` while a sandbox starts or runs from it) or its unavailability.
   */
  deleteSnapshot(snapshotId: string): Promise<void>;
}

/** A vendor's snapshot deletion can take a while (Daytona resolves the name first). */
const DELETE_SNAPSHOT_TIMEOUT_MS = 60_000;

/** `/v1/images` with signed requests (service `control-plane`), like the rest of `/v1`. */
export class HttpImageGateway implements ImageGateway {
  constructor(
    private readonly baseUrl: string,
    private readonly secret: string | undefined,
    private readonly fetcher: typeof fetch,
  ) {}

  static fromEnv(env: Pick<Env, "GATEWAY_URL" | "GATEWAY_SERVICE_SECRET" | "GATEWAY" | "GATEWAY_CONTAINER">): HttpImageGateway {
    return new HttpImageGateway(env.GATEWAY_URL, env.GATEWAY_SERVICE_SECRET, gatewayFetcher(env));
  }

  async available(): Promise<boolean> {
    try {
      const capabilities = ProviderCapabilities.safeParse(await this.call("GET", "/v1/capabilities", undefined));
      return capabilities.success && capabilities.data.snapshots && capabilities.data.restore;
    } catch {
      return false;
    }
  }

  async start(request: ImageBuildRequest): Promise<ImageBuildState> {
    return this.state(await this.call("POST", "/v1/images/builds", request));
  }

  async get(buildId: string): Promise<ImageBuildState | null> {
    const answer = await this.call("GET", `/v1/images/builds/${encodeURIComponent(buildId)}`, undefined, [404]);
    return answer === null ? null : this.state(answer);
  }

  async deleteSnapshot(snapshotId: string): Promise<void> {
    await this.call("DELETE", `/v1/images/snapshots/${encodeURIComponent(snapshotId)}`, undefined, [], DELETE_SNAPSHOT_TIMEOUT_MS);
  }

  private state(data: unknown): ImageBuildState {
    const parsed = ImageBuildState.safeParse(data);
    if (!parsed.success) throw new LookoutError("INTERNAL", "The gateway's image build state has the wrong shape.");
    return parsed.data;
  }

  /** The answer's JSON; null for a status in `absentOn`. Refusals become the gateway's own error. */
  private call(method: string, path: string, body: unknown, absentOn: readonly number[] = [], timeoutMs?: number): Promise<unknown> {
    return signedGatewayCall(
      { baseUrl: this.baseUrl, secret: this.secret, fetcher: this.fetcher },
      {
        method,
        path,
        body,
        absentOn,
        unconfigured: "images cannot be built",
        otherwise: "SANDBOX_UNAVAILABLE",
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
      },
    );
  }
}
