import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { lazy, Suspense, useState, type ReactNode } from "react";
import { BrowserRouter, Navigate, Route, Routes } from "react-router";
import { ApiProvider, type ApiContextValue } from "./api/context";
import { createQueryClientDefaults } from "./api/queries";
import { AppShell } from "./components/app-shell";
import { ErrorCallout, LoadingBlock } from "./components/states";
import { ToastProvider } from "./components/toasts";
import { NewSessionPage } from "./pages/new-session-page";
import { NotFoundPage } from "./pages/not-found-page";
import { SessionsPage } from "./pages/sessions-page";
import { SignInPage } from "./pages/sign-in-page";
import { AuthProvider, useAuth } from "./state/auth";

export interface AppProps {
  services: ApiContextValue;
  /** Tests pass their own client to start from a clean cache. */
  queryClient?: QueryClient;
  /** Tests render inside a MemoryRouter instead. */
  router?: (children: ReactNode) => ReactNode;
}

export function App({ services, queryClient, router }: AppProps) {
  const [client] = useState(() => queryClient ?? new QueryClient(createQueryClientDefaults()));
  const content = (
    <AuthProvider>
      <ToastProvider>
        <AuthGate>
          <AppRoutes />
        </AuthGate>
      </ToastProvider>
    </AuthProvider>
  );
  return (
    <QueryClientProvider client={client}>
      <ApiProvider value={services}>{router ? router(content) : <BrowserRouter>{content}</BrowserRouter>}</ApiProvider>
    </QueryClientProvider>
  );
}

function AuthGate({ children }: { children: ReactNode }) {
  const { state, recheck } = useAuth();
  switch (state.status) {
    case "checking":
      return (
        <div className="center-page">
          <LoadingBlock label="Opening Lookout…" />
        </div>
      );
    case "signed-out":
      // Keyed so that a refusal reported after the form appeared still shows.
      return <SignInPage key={state.error ?? ""} expired={state.expired} initialError={state.error} />;
    case "unreachable":
      return (
        <div className="center-page">
          <div style={{ maxWidth: 480 }}>
            <ErrorCallout title="Lookout did not answer" error={state.error} onRetry={recheck} />
          </div>
        </div>
      );
    case "signed-in":
      return <AppShell>{children}</AppShell>;
  }
}

// The session view carries markdown and diff rendering; load it when first needed.
const SessionPage = lazy(() => import("./pages/session-page").then((module) => ({ default: module.SessionPage })));
const AutomationsPage = lazy(() => import("./pages/automations-page").then((module) => ({ default: module.AutomationsPage })));
const AutomationPage = lazy(() => import("./pages/automations/automation-page").then((module) => ({ default: module.AutomationPage })));
const AutomationFormPage = lazy(() =>
  import("./pages/automations/automation-form-page").then((module) => ({ default: module.AutomationFormPage })),
);
const SettingsPage = lazy(() => import("./pages/settings-page").then((module) => ({ default: module.SettingsPage })));

export function AppRoutes() {
  return (
    <Suspense fallback={<LoadingBlock />}>
      <Routes>
        <Route path="/" element={<SessionsPage />} />
        <Route path="/new" element={<NewSessionPage />} />
        <Route path="/sessions/:sessionId" element={<SessionPage />} />
        <Route path="/automations" element={<AutomationsPage />} />
        <Route path="/automations/new" element={<AutomationFormPage />} />
        <Route path="/automations/:automationId" element={<AutomationPage />} />
        <Route path="/automations/:automationId/edit" element={<AutomationFormPage />} />
        <Route path="/settings" element={<Navigate to="/settings/repositories" replace />} />
        <Route path="/settings/:tab" element={<SettingsPage />} />
        <Route path="*" element={<NotFoundPage />} />
      </Routes>
    </Suspense>
  );
}
