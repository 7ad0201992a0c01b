import { createServer } from "node:net";

/** The address every local service of the stack listens on. */
export const LOCAL_HOST = "127.0.0.1";

/** A TCP port that was free on `LOCAL_HOST` a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, LOCAL_HOST, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error("the OS assigned no port"))));
    });
  });
}
