export * from "./provider";
export * from "./errors";
export * from "./logger";
export * from "./bridge-env";
export { LocalProvider, type LocalProviderOptions, TERMINATE_GRACE_MS } from "./local/local-provider";
export { BWRAP_INSTALL_HINT, probeBubblewrap } from "./local/bwrap";
export { DaytonaProvider, type DaytonaProviderOptions, classifyDaytonaError } from "./daytona/daytona-provider";
export { buildDaytonaSnapshot, daytonaImage, daytonaSnapshotName } from "./daytona/daytona-snapshot";
