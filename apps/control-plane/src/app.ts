import { Hono } from "hono";
import { LookoutError } from "@lookout/protocol";
import { requireAuth } from "./auth/middleware";
import type { AppEnv } from "./http/app-env";
import { errorResponse } from "./http/errors";
import { authRoutes } from "./routes/auth";
import { automationsRoutes } from "./routes/automations";
import { githubAuthRoutes } from "./routes/github-auth";
import { githubTriggerRoutes } from "./routes/github-triggers";
import { githubWebhookRoutes } from "./routes/github-webhooks";
import { healthRoutes } from "./routes/health";
import { linearRoutes } from "./routes/linear";
import { meRoutes } from "./routes/me";
import { modelsRoutes } from "./routes/models";
import { pullRequestRoutes } from "./routes/pull-requests";
import { repositoriesRoutes } from "./routes/repositories";
import { repositoryImageRoutes } from "./routes/repository-images";
import { sandboxScmRoutes } from "./routes/sandbox-scm";
import { scmRoutes } from "./routes/scm";
import { secretsRoutes } from "./routes/secrets";
import { sessionParticipantRoutes } from "./routes/session-participants";
import { sessionSocketRoutes } from "./routes/session-sockets";
import { sandboxPoolRoutes } from "./routes/sandbox-pool";
import { sessionsRoutes } from "./routes/sessions";
import { slackRoutes } from "./routes/slack";
import { triggerWebhookRoutes } from "./routes/trigger-webhooks";

/**
 * The REST router. Public routes (health, login) are mounted before `requireAuth`; everything
 * after it needs a browser session or a signed service request.
 */
export const app = new Hono<AppEnv>();

app.onError(errorResponse);
app.notFound((c) => errorResponse(new LookoutError("NOT_FOUND", `No route for ${c.req.method} ${c.req.path}.`), c));

app.route("/api/health", healthRoutes);
app.route("/auth/github", githubAuthRoutes);
app.route("/auth", authRoutes);
// Verified by their own signature over the raw body, not by a cookie or a service signature.
app.route("/api/webhooks", githubWebhookRoutes);
// Sentry and inbound webhooks verify their sender themselves; their settings routes apply requireAuth.
app.route("/api/triggers", triggerWebhookRoutes);
// The Linear webhook verifies its own signature; its settings and install routes apply requireAuth.
app.route("/api/linear", linearRoutes);
// Slack verifies its own signature; the relay signs as a service; settings routes apply requireAuth.
app.route("/api/slack", slackRoutes);

// Socket upgrades authenticate with their own tokens (a browser cannot sign an upgrade request).
app.route("/api/sessions", sessionSocketRoutes);
// Sandboxes authenticate with their bearer token; other callers fall through to requireAuth.
app.route("/api/sessions", sandboxScmRoutes);

app.use("/api/*", requireAuth);
app.route("/api/me", meRoutes);
app.route("/api/models", modelsRoutes);
app.route("/api/repositories", repositoriesRoutes);
app.route("/api/repositories", repositoryImageRoutes);
app.route("/api/secrets", secretsRoutes);
app.route("/api/sessions", sessionsRoutes);
app.route("/api/sessions", pullRequestRoutes);
app.route("/api/sessions", sessionParticipantRoutes);
app.route("/api/scm", scmRoutes);
app.route("/api/automations", automationsRoutes);
app.route("/api/github-triggers", githubTriggerRoutes);
app.route("/api/sandbox-pool", sandboxPoolRoutes);
