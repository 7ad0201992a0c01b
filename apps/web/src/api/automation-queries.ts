import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { useApi } from "./context";

/** How often automations and their runs refresh while the tab is visible (runs settle on their own). */
export const AUTOMATIONS_POLL_MS = 5_000;
export const RUNS_PAGE_SIZE = 20;

export const automationKeys = {
  all: ["automations"] as const,
  list: ["automations", "list"] as const,
  one: (id: string) => ["automations", "one", id] as const,
  runs: (id: string) => ["automations", "runs", id] as const,
  lastRun: (id: string) => ["automations", "last-run", id] as const,
  webhook: (id: string) => ["automations", "webhook", id] as const,
  sentry: (id: string) => ["automations", "sentry", id] as const,
  cronPreview: (expression: string, timeZone: string) => ["cron-preview", expression, timeZone] as const,
};

/**
 * Every automation, refreshed while the tab is visible. `watch: false` is for pages that only need
 * names (a session's origin): they share the cache without polling; `enabled: false` reads only it.
 */
export function useAutomations({ enabled = true, watch = true }: { enabled?: boolean; watch?: boolean } = {}) {
  const api = useApi();
  return useQuery({
    queryKey: automationKeys.list,
    queryFn: ({ signal }) => api.automations.list(signal),
    enabled,
    refetchInterval: watch ? AUTOMATIONS_POLL_MS : false,
    refetchIntervalInBackground: false,
    staleTime: watch ? 0 : 60_000,
  });
}

export function useAutomation(id: string) {
  const api = useApi();
  return useQuery({
    queryKey: automationKeys.one(id),
    queryFn: ({ signal }) => api.automations.get(id, signal),
    refetchInterval: AUTOMATIONS_POLL_MS,
    refetchIntervalInBackground: false,
  });
}

/** The newest run of an automation (null before its first), for the list's "last result". */
export function useLastRun(id: string) {
  const api = useApi();
  return useQuery({
    queryKey: automationKeys.lastRun(id),
    queryFn: async ({ signal }) => (await api.automations.runs(id, { limit: 1 }, signal)).runs[0] ?? null,
    refetchInterval: AUTOMATIONS_POLL_MS,
    refetchIntervalInBackground: false,
  });
}

/** Run history, newest first, a page at a time ("Load more"); refreshed while visible so runs settle in place. */
export function useAutomationRuns(id: string) {
  const api = useApi();
  return useInfiniteQuery({
    queryKey: automationKeys.runs(id),
    queryFn: ({ pageParam, signal }) => api.automations.runs(id, { before: pageParam ?? undefined, limit: RUNS_PAGE_SIZE }, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextBefore,
    refetchInterval: AUTOMATIONS_POLL_MS,
    refetchIntervalInBackground: false,
    staleTime: 0,
  });
}

export function useWebhookSettings(id: string, enabled: boolean) {
  const api = useApi();
  return useQuery({ queryKey: automationKeys.webhook(id), queryFn: ({ signal }) => api.automations.webhookSettings(id, signal), enabled });
}

export function useSentrySettings(id: string, enabled: boolean) {
  const api = useApi();
  return useQuery({ queryKey: automationKeys.sentry(id), queryFn: ({ signal }) => api.automations.sentrySettings(id, signal), enabled });
}

/** The next runs of a cron expression in a time zone, as the server computes them (it also enforces the minimum interval). */
export function useCronPreview(expression: string, timeZone: string) {
  const api = useApi();
  return useQuery({
    queryKey: automationKeys.cronPreview(expression, timeZone),
    queryFn: ({ signal }) => api.automations.cronPreview(expression, timeZone, signal),
    enabled: expression.trim().length > 0,
    staleTime: 30_000,
    retry: false,
  });
}
