import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { copyWranglerConfig, freePort, type RunningWorker, startWorker } from "@lookout/dev-stack";
import { JsonSocket, typeOf } from "./json-socket.ts";
import { BENCH_ROOT } from "./paths.ts";
import { processGroupCpuMs } from "./process-cpu.ts";
import { type PublishProtocol, Publisher } from "./publisher.ts";
import type { Channel, Target } from "./target.ts";

const baselineProtocol: PublishProtocol = {
  frame: (seq, event) => ({ type: "publish", seq, event }),
  ackOf: (message) => {
    if (typeOf(message) !== "ack" || typeof message !== "object" || message === null || !("seq" in message)) return undefined;
    return typeof message.seq === "number" ? message.seq : undefined;
  },
  refusalOf: (message) => (typeOf(message) === "error" ? JSON.stringify(message) : undefined),
};

/** The minimal Durable Object in `bench/baseline/` on its own wrangler dev server; each channel is a new room. */
export class BaselineTarget implements Target {
  readonly name = "baseline";
  private rooms = 0;

  private constructor(
    private readonly worker: RunningWorker,
    readonly logFile: string,
  ) {}

  static async start(workDir: string): Promise<BaselineTarget> {
    mkdirSync(workDir, { recursive: true });
    const logFile = join(workDir, "wrangler.log");
    const worker = await startWorker({
      name: "baseline",
      config: copyWranglerConfig(join(BENCH_ROOT, "baseline", "wrangler.toml"), workDir),
      persistTo: join(workDir, "state"),
      port: await freePort(),
      readyPath: "/health",
      logFile,
    });
    return new BaselineTarget(worker, logFile);
  }

  async openChannel(label: string): Promise<Channel> {
    const room = `${label.replace(/[^A-Za-z0-9_-]/g, "-")}-${++this.rooms}`;
    const base = `${this.worker.url.replace(/^http/, "ws")}/rooms/${room}`;
    const publisher = new Publisher(await JsonSocket.connect(`${base}/publish`), baselineProtocol, 1);
    return { promptId: "bench-baseline", publisher, openSubscriber: () => JsonSocket.connect(`${base}/subscribe`) };
  }

  serverCpuMs(): number {
    return processGroupCpuMs(this.worker.pid);
  }

  stop(): Promise<void> {
    return this.worker.stop();
  }
}
