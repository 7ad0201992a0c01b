import { DaytonaProvider, LocalProvider, ModalProvider, VercelProvider, type Logger, type SandboxProvider } from "@lookout/sandbox";
import type { ProviderSettings } from "./config";

/** Builds the configured provider; the local one checks bubblewrap before the gateway listens. */
export async function createProvider(
  settings: ProviderSettings,
  context: { dataDir: string; repoRoot: string; logger: Logger },
): Promise<SandboxProvider> {
  const { logger } = context;
  switch (settings.kind) {
    case "local":
      return LocalProvider.start({
        dataDir: context.dataDir,
        bridgeBundle: settings.bridgeBundle,
        opencodeBin: settings.opencodeBin,
        ...(settings.opencodeConfigDir ? { opencodeConfigDir: settings.opencodeConfigDir } : {}),
        bwrapPath: settings.bwrapPath,
        unsafeNoSandbox: settings.unsafeNoSandbox,
        logger,
      });
    case "modal":
      return new ModalProvider({
        tokenId: settings.tokenId,
        tokenSecret: settings.tokenSecret,
        appName: settings.appName,
        ...(settings.environment ? { environment: settings.environment } : {}),
        repoRoot: context.repoRoot,
        logger,
      });
    case "daytona":
      return new DaytonaProvider({
        apiKey: settings.apiKey,
        ...(settings.apiUrl ? { apiUrl: settings.apiUrl } : {}),
        ...(settings.target ? { target: settings.target } : {}),
        ...(settings.snapshot ? { baseSnapshot: settings.snapshot } : {}),
        logger,
      });
    case "vercel":
      return new VercelProvider({
        token: settings.token,
        teamId: settings.teamId,
        projectId: settings.projectId,
        ...(settings.baseSnapshotId ? { baseSnapshotId: settings.baseSnapshotId } : {}),
        logger,
      });
  }
}
