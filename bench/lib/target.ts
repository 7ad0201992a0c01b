import type { JsonSocket } from "./json-socket.ts";
import type { Publisher } from "./publisher.ts";

/**
 * One stream of events under test: a Lookout session (events enter through its bridge) or a room
 * of the baseline Durable Object. Subscribers speak the same subset of Lookout's client protocol
 * on both: send `{type:"subscribe", afterSeq}`, receive `events` frames, then `subscribed`.
 */
export interface Channel {
  /** The prompt bench events belong to (Lookout refuses events for unknown prompts). */
  promptId: string;
  publisher: Publisher;
  /** Opens a socket that may subscribe; it is connected but not yet subscribed. */
  openSubscriber(): Promise<JsonSocket>;
}

/** A system under test that can open fresh channels. */
export interface Target {
  name: string;
  openChannel(label: string): Promise<Channel>;
  /** CPU time (ms) the server's processes have used so far (`processGroupCpuMs`). */
  serverCpuMs(): number;
}
