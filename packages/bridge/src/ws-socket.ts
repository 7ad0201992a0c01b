import { MAX_FRAME_BYTES, SOCKET_CLOSE_CODES } from "@lookout/protocol";
import WebSocket from "ws";
import type { SocketFactory } from "./connection";

/** How long the WebSocket upgrade may take before the attempt counts as failed. */
export const HANDSHAKE_TIMEOUT_MS = 15_000;

/**
 * HTTP statuses answered at upgrade time that mean what the fatal close codes mean, so a refused
 * upgrade stops the bridge just like a refusing close.
 */
const CLOSE_CODE_FOR_UPGRADE_STATUS: Readonly<Record<number, number>> = {
  401: SOCKET_CLOSE_CODES.SIGNED_OUT,
  403: SOCKET_CLOSE_CODES.FORBIDDEN,
  410: SOCKET_CLOSE_CODES.SANDBOX_RETIRED,
};
/** "Abnormal closure": the code reported when no close frame was received. */
const ABNORMAL_CLOSURE = 1006;

/** Opens the session socket with the `ws` package (Node has no WebSocket client with headers). */
export const wsSocketFactory: SocketFactory = (url, headers, handlers) => {
  const socket = new WebSocket(url, { headers, handshakeTimeout: HANDSHAKE_TIMEOUT_MS, maxPayload: MAX_FRAME_BYTES * 4 });
  let ended = false;
  const end = (code: number, reason: string): void => {
    if (ended) return;
    ended = true;
    handlers.onClose(code, reason);
  };
  socket.on("open", () => handlers.onOpen());
  socket.on("message", (data, isBinary) => {
    // The protocol is JSON text; binary frames are not part of it.
    if (isBinary) return;
    const buffer = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? Buffer.from(new Uint8Array(data)) : data;
    handlers.onMessage(buffer.toString("utf8"));
  });
  socket.on("pong", () => handlers.onPong());
  socket.on("unexpected-response", (request, response) => {
    const status = response.statusCode ?? 0;
    request.destroy();
    end(CLOSE_CODE_FOR_UPGRADE_STATUS[status] ?? ABNORMAL_CLOSURE, `upgrade refused with HTTP ${status}`);
  });
  // Errors are always followed by "close"; the connection decides what to do then.
  socket.on("error", () => {});
  socket.on("close", (code, reason) => end(code, reason.toString("utf8")));
  return {
    send: (data) => socket.send(data),
    ping: () => {
      if (socket.readyState === WebSocket.OPEN) socket.ping();
    },
    close: (code, reason) => {
      if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
      else socket.close(code, reason);
    },
    terminate: () => socket.terminate(),
  };
};
