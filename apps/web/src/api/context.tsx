import { createContext, useContext, type ReactNode } from "react";
import type { LookoutApi } from "./lookout-api";
import type { ConnectionFactory } from "./session-connection";

export interface ApiContextValue {
  api: LookoutApi;
  /** Opens session sockets; tests swap in a fake. */
  connect: ConnectionFactory;
}

const ApiContext = createContext<ApiContextValue | null>(null);

export function ApiProvider({ value, children }: { value: ApiContextValue; children: ReactNode }) {
  return <ApiContext.Provider value={value}>{children}</ApiContext.Provider>;
}

export function useApiContext(): ApiContextValue {
  const value = useContext(ApiContext);
  if (!value) throw new Error("useApi must be used inside <ApiProvider>");
  return value;
}

export function useApi(): LookoutApi {
  return useApiContext().api;
}
