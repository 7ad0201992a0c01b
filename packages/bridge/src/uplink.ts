import { connect, createServer, type Server, type Socket } from "node:net";
import type { Logger } from "./logger";

export interface UplinkOptions {
  /** The gateway's per-sandbox relay, a Unix socket bound into the sandbox. */
  readonly socketPath: string;
  /** The loopback port inside the sandbox that every Lookout URL and the HTTP(S) proxy use. */
  readonly port: number;
  readonly logger: Logger;
}

export interface Uplink {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Forwards `127.0.0.1:<port>` to the gateway's relay socket, byte for byte. A sandbox with its own
 * network namespace has no other way out: the relay decides what each request may reach (the
 * session's bridge routes, the git endpoint, the model proxy, public egress), so this forwarder
 * holds no policy and no credential, and anything in the sandbox may use it.
 */
export async function startUplink(options: UplinkOptions): Promise<Uplink> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const relay = connect(options.socketPath);
    sockets.add(client).add(relay);
    const done = (): void => {
      client.destroy();
      relay.destroy();
      sockets.delete(client);
      sockets.delete(relay);
    };
    relay.on("error", (error) => {
      options.logger.warn("uplink relay connection failed", { error: error.message });
      done();
    });
    client.on("error", done);
    client.on("close", done);
    relay.on("close", done);
    client.pipe(relay);
    relay.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", () => resolve());
  });
  options.logger.info("uplink listening", { port: options.port });
  return {
    url: `http://127.0.0.1:${options.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
