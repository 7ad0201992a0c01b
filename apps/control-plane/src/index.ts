import { app } from "./app";
import type { Env } from "./env";

export { SessionAgent } from "./session/session-agent";

export default {
  fetch(request, env, ctx) {
    return app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
