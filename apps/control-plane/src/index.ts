import { app } from "./app";
import type { Env } from "./env";
import { wakeScheduler } from "./triggers/scheduler-object";

export { SessionAgent } from "./session/session-agent";
export { TriggerScheduler } from "./triggers/scheduler-object";

export default {
  fetch(request, env, ctx) {
    return app.fetch(request, env, ctx);
  },
  // The safety sweep: the scheduler's alarm does the work; this only makes sure it wakes.
  async scheduled(_controller, env) {
    await wakeScheduler(env, Date.now());
  },
} satisfies ExportedHandler<Env>;
