export { startScriptedModel, MAX_BODY_BYTES, type ScriptedModel, type ScriptedModelOptions, type RecordedRequest } from "./server";
export { builtinScripts, fallbackScript } from "./builtin-scripts";
export { Script, Step, ScriptList, selectScript, planTurn, fillTemplate, type ScriptInput, type Captures } from "./script";
export { loadScripts } from "./load-scripts";
export { createLogger, silentLogger, type Logger, type LogLevel } from "./logger";
export { classify as classifyRepositoryOffline, REPOSITORY_CLASSIFIER_HEADER } from "./classify-repository";
