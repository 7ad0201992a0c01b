import { BRIDGE_ENV, randomToken } from "@lookout/protocol";
import { type NamedSecret, Redactor, SANDBOX_TOKEN_PREFIX } from "./redaction";

/** Bridge frames held at most while a redactor loads; past that the bridge is asked to reconnect and re-send. */
const MAX_HELD_FRAMES = 1_000;

/** A fresh sandbox token. Its prefix lets the redactor recognise it even when its value is not known. */
export function mintSandboxToken(): string {
  return `${SANDBOX_TOKEN_PREFIX}${randomToken(32)}`;
}

interface Loading {
  sandboxId: string;
  held: (() => void)[];
}

/**
 * The redactor for the session's current sandbox, built from the values that sandbox was given and
 * kept in memory only: secret values never go into the object's SQLite. It is built when the
 * sandbox is spawned (its environment secrets and its token). When the object has restarted since,
 * it is rebuilt from the stored secrets before anything the bridge sends is applied; the token's
 * value is gone by then (only its hash is stored) and its prefix pattern hides it instead.
 */
export class SandboxSecrets {
  private current: { sandboxId: string; redactor: Redactor } | null = null;
  private loading: Loading | null = null;

  constructor(
    /** Decrypts the environment secrets a sandbox for the repository gets. */
    private readonly resolve: (repositoryId: string) => Promise<Record<string, string>>,
    /** Keeps a load alive after the call that started it returns. */
    private readonly defer: (work: Promise<unknown>) => void,
  ) {}

  /** At spawn: what the sandbox is given becomes what is hidden from the log. */
  remember(sandboxId: string, env: Record<string, string>, sandboxToken: string): void {
    this.current = { sandboxId, redactor: redactorFor(env, sandboxToken) };
    if (this.loading?.sandboxId === sandboxId) this.release(this.loading);
  }

  /** The redactor for `sandboxId`, or null until it is built. */
  redactorFor(sandboxId: string): Redactor | null {
    return this.current?.sandboxId === sandboxId ? this.current.redactor : null;
  }

  /**
   * Runs `work` once the redactor for `sandboxId` exists, after the work held before it, and
   * starts building the redactor if nobody has. If the secrets cannot be loaded the held work is
   * dropped and `onFailure` runs: nothing is applied without redaction. Returns false, holding
   * nothing, when `MAX_HELD_FRAMES` are already waiting.
   */
  hold(sandboxId: string, repositoryId: string, work: () => void, onFailure: (error: unknown) => void): boolean {
    if (this.loading?.sandboxId === sandboxId) {
      if (this.loading.held.length >= MAX_HELD_FRAMES) return false;
      this.loading.held.push(work);
      return true;
    }
    const loading: Loading = { sandboxId, held: [work] };
    this.loading = loading;
    this.defer(
      this.resolve(repositoryId).then(
        (env) => {
          if (this.loading !== loading) return;
          if (!this.redactorFor(sandboxId)) this.current = { sandboxId, redactor: redactorFor(env, null) };
          this.release(loading);
        },
        (error: unknown) => {
          if (this.loading !== loading) return;
          this.loading = null;
          onFailure(error);
        },
      ),
    );
    return true;
  }

  private release(loading: Loading): void {
    this.loading = null;
    for (const work of loading.held) work();
  }
}

function redactorFor(env: Record<string, string>, sandboxToken: string | null): Redactor {
  const secrets: NamedSecret[] = Object.entries(env).map(([name, value]) => ({ name, value }));
  if (sandboxToken) secrets.push({ name: BRIDGE_ENV.sandboxToken, value: sandboxToken });
  return new Redactor(secrets);
}
