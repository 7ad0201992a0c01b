import { keepPreviousData, useInfiniteQuery, useQuery, type QueryClient } from "@tanstack/react-query";
import { ApiError } from "./api-error";
import { useApi } from "./context";
import type { ListSessionsParams, SecretScope } from "./lookout-api";

/** How often the sessions list refreshes while the tab is visible. */
export const SESSIONS_POLL_MS = 5_000;
export const SESSIONS_PAGE_SIZE = 25;

export const queryKeys = {
  models: ["models"] as const,
  repositories: ["repositories"] as const,
  secrets: (scope: SecretScope) => ["secrets", scope.kind === "global" ? "global" : scope.repositoryId] as const,
  sessions: (filters: Omit<ListSessionsParams, "cursor" | "limit">) => ["sessions", filters] as const,
  allSessions: ["sessions"] as const,
  session: (id: string) => ["session", id] as const,
  pullRequest: (id: string) => ["pull-request", id] as const,
};

/** Retries only what may succeed later; a 4xx answer will not change by asking again. */
export function shouldRetry(failureCount: number, error: unknown): boolean {
  if (error instanceof ApiError && !error.isTransient) return false;
  return failureCount < 2;
}

export function createQueryClientDefaults(): ConstructorParameters<typeof QueryClient>[0] {
  return {
    defaultOptions: {
      queries: { retry: shouldRetry, staleTime: 10_000, refetchOnWindowFocus: true },
      mutations: { retry: false },
    },
  };
}

export function useModels() {
  const api = useApi();
  return useQuery({ queryKey: queryKeys.models, queryFn: ({ signal }) => api.models(signal), staleTime: 60_000 });
}

export function useRepositories() {
  const api = useApi();
  return useQuery({ queryKey: queryKeys.repositories, queryFn: ({ signal }) => api.listRepositories(signal) });
}

export function useSecrets(scope: SecretScope) {
  const api = useApi();
  return useQuery({ queryKey: queryKeys.secrets(scope), queryFn: ({ signal }) => api.listSecrets(scope, signal) });
}

/**
 * The sessions list: cursor pages ("Load more" fetches the next), refreshed every few seconds
 * while the tab is visible so statuses and costs stay live.
 */
export function useSessionsList(filters: Omit<ListSessionsParams, "cursor" | "limit">) {
  const api = useApi();
  return useInfiniteQuery({
    queryKey: queryKeys.sessions(filters),
    queryFn: ({ pageParam, signal }) => api.listSessions({ ...filters, cursor: pageParam ?? undefined, limit: SESSIONS_PAGE_SIZE }, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
    placeholderData: keepPreviousData,
    refetchInterval: SESSIONS_POLL_MS,
    refetchIntervalInBackground: false,
    staleTime: 0,
  });
}

export function useSessionDetail(id: string) {
  const api = useApi();
  return useQuery({ queryKey: queryKeys.session(id), queryFn: ({ signal }) => api.getSession(id, signal), staleTime: 0 });
}

/**
 * The session's pull request (null until one is opened). `version` is the seq of its artifact row
 * in the event log: each change to the pull request rewrites that row, so a new seq refetches.
 */
export function usePullRequest(sessionId: string, version: number | null) {
  const api = useApi();
  return useQuery({
    queryKey: [...queryKeys.pullRequest(sessionId), version] as const,
    queryFn: ({ signal }) => api.pullRequest(sessionId, signal),
    placeholderData: keepPreviousData,
    staleTime: Infinity,
  });
}
