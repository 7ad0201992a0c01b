import { createLogger, describeError } from "@lookout/sandbox";
import { loadGatewaySettings } from "./config";
import { egressFromEnv, privateDestinationsFromEnv } from "./relay/egress";
import { startGateway } from "./server";

/** `tsx src/main.ts`: reads the environment, starts the gateway, stops cleanly on SIGINT/SIGTERM. */
async function main(): Promise<void> {
  const settings = loadGatewaySettings();
  const logger = createLogger("sandbox-gateway", settings.logLevel);
  const gateway = await startGateway({
    ...settings,
    egress: egressFromEnv(process.env),
    privateDestinations: privateDestinationsFromEnv(process.env),
    logger,
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info("stopping", { signal });
    gateway.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error("shutdown failed", { error: describeError(error) });
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

main().catch((error: unknown) => {
  createLogger("sandbox-gateway").error("the sandbox gateway could not start", { error: describeError(error) });
  process.exit(1);
});
