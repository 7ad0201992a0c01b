"use strict";
/**
 * Stands in for `undici` inside the Worker (aliased in `wrangler.toml` and the workerd test
 * config). Bolt's `App` imports its Socket Mode receiver, which requires `undici` at load, and
 * undici's load needs `node:console`'s `Console`, which workerd lacks. The Worker never opens a
 * Socket Mode connection — the Node relay (`packages/slack-relay`) does — so every export refuses.
 * CommonJS, because it is `require`d by CommonJS code.
 */
function unavailable() {
  throw new Error("undici is not available in the Worker: Slack Socket Mode runs in the relay (packages/slack-relay)");
}

class WebSocket {
  constructor() {
    unavailable();
  }
}
class Agent {
  constructor() {
    unavailable();
  }
}
class ErrorEvent {}
class MessageEvent {}
class CloseEvent {}

module.exports = { WebSocket, Agent, ErrorEvent, MessageEvent, CloseEvent, fetch: unavailable };
