export { copyWranglerConfig, type CopyConfigOptions } from "./config.ts";
export { freePort, LOCAL_HOST } from "./ports.ts";
export { startWorker, type RunningWorker, type WorkerExit, type WorkerOptions } from "./worker.ts";
export { applyD1Migrations } from "./wrangler-cli.ts";
