export { startGateway, CONTROL_PLANE_SERVICE, type GatewayConfig, type RunningGateway } from "./server";
export {
  loadGatewaySettings,
  findRepoRoot,
  findOpencodeBinary,
  type GatewaySettings,
  type ModelSettings,
  type ProviderSettings,
} from "./config";
export { sandboxModelProviders, proxyTargets } from "./model-providers";
