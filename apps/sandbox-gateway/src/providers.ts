import { LocalProvider, type Logger, type SandboxProvider } from "@lookout/sandbox";
import type { ProviderSettings } from "./config";

/** Builds the configured provider; the local one checks bubblewrap before the gateway listens. */
export async function createProvider(settings: ProviderSettings, context: { dataDir: string; logger: Logger }): Promise<SandboxProvider> {
  switch (settings.kind) {
    case "local":
      return LocalProvider.start({
        dataDir: context.dataDir,
        bridgeBundle: settings.bridgeBundle,
        opencodeBin: settings.opencodeBin,
        bwrapPath: settings.bwrapPath,
        unsafeNoSandbox: settings.unsafeNoSandbox,
        logger: context.logger,
      });
    default:
      throw new Error(`The ${settings.kind} provider is not wired yet.`);
  }
}
