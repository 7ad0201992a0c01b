export { ApiError, errorMessage } from "./api-error";
export { HttpClient } from "./http";
export { LookoutApi } from "./lookout-api";
export type { ListSessionsParams, Model, Models, RepositoryPatch, Secret, SecretScope, SendPromptParams } from "./lookout-api";
export { SessionSocket } from "./session-socket";
export type { ConnectionState, SessionSocketOptions, WebSocketLike } from "./session-socket";
export { parseServerFrame } from "./server-frame";
export type { EventsFrame, ParsedServerFrame } from "./server-frame";
export { newRequestId } from "./request-id";
