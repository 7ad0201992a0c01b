import type { Env } from "../env";
import { GatewayModel } from "../gateway-model";
import { log } from "../log";
import { type Classification, type ClassificationInput, classifyRepository } from "./repository-classifier";

/** The classifier on the gateway's model, logging each verdict. */
export function gatewayClassifier(
  env: Pick<Env, "GATEWAY_URL" | "GATEWAY_SERVICE_SECRET" | "GATEWAY" | "GATEWAY_CONTAINER">,
): (input: ClassificationInput) => Promise<Classification> {
  const model = GatewayModel.fromEnv(env);
  return async (input) => {
    const verdict = await classifyRepository(input, { complete: async (request, signal) => (await model.complete(request, signal)).text });
    log.info("repository classified", {
      source: input.source,
      candidates: input.candidates.length,
      ...(verdict.kind === "confident"
        ? { repository: verdict.repository.fullName, confidence: verdict.confidence }
        : { unsure: verdict.reason }),
    });
    return verdict;
  };
}
