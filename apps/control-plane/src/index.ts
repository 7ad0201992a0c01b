import { app } from "./app";
import { configurationError } from "./config";
import type { Env } from "./env";
import { forwardToGatewayContainer } from "./gateway-container";
import { wakeScheduler } from "./triggers/scheduler-object";

export { GatewayContainer } from "./gateway-container";
export { SessionAgent } from "./session/session-agent";
export { TriggerScheduler } from "./triggers/scheduler-object";

export default {
  // A deployment missing a secret answers every request with an error naming it, never half works.
  fetch(request, env, ctx) {
    const invalid = configurationError(env);
    if (invalid) return Response.json(invalid.toBody(), { status: invalid.status });
    return forwardToGatewayContainer(request, env) ?? app.fetch(request, env, ctx);
  },
  // The safety sweep: the scheduler's alarm does the work; this only makes sure it wakes.
  async scheduled(_controller, env) {
    const invalid = configurationError(env);
    if (invalid) throw invalid;
    await wakeScheduler(env, Date.now());
  },
} satisfies ExportedHandler<Env>;
