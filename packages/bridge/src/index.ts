/**
 * The bridge's building blocks, for tests and for other packages that need the contract (the
 * generated OpenCode config, the env parser). The runnable bridge is `dist/bridge.mjs` (src/main.ts).
 */
export { loadConfig, bridgeSocketUrl, splitModelRef, ConfigError, type BridgeConfig } from "./config";
export { buildOpencodeConfig, AGENT_PERMISSION, COMPATIBLE_MODEL_LIMIT } from "./opencode-config";
export { opencodeEnv } from "./opencode-server";
export { checkBranchName, isValidBranchName } from "./branch";
export { EventTranslator, type TranslatorOutput } from "./translator";
export { Outbox, type OutboxEntry } from "./outbox";
export { BridgeConnection, FATAL_CLOSE_CODES, type SocketFactory, type SocketLike, type SocketHandlers } from "./connection";
export {
  runSetupScript,
  describeSetupResult,
  SETUP_SCRIPT_PATH,
  DEFAULT_SETUP_TIMEOUT_MS,
  DEFAULT_SETUP_OUTPUT_CHARS,
  type SetupScriptOptions,
  type SetupScriptResult,
} from "./setup-script";
