import { NavLink, Navigate, useParams } from "react-router";
import { GithubTriggersSettings } from "./settings/github-triggers-settings";
import { LinearSettings } from "./settings/linear-settings";
import { ModelsSettings } from "./settings/models-settings";
import { RepositoriesSettings } from "./settings/repositories-settings";
import { RepositoryImagesSettings } from "./settings/repository-images-settings";
import { SandboxPoolPage } from "./settings/sandbox-pool-page";
import { SecretsSettings } from "./settings/secrets-settings";
import { SlackSettings } from "./settings/slack-settings";
import { useDocumentTitle } from "../hooks/use-document-title";

const TABS = [
  { id: "repositories", label: "Repositories", render: () => <RepositoriesSettings /> },
  { id: "images", label: "Images", render: () => <RepositoryImagesSettings /> },
  { id: "pool", label: "Warm pool", render: () => <SandboxPoolPage /> },
  { id: "secrets", label: "Secrets", render: () => <SecretsSettings /> },
  { id: "models", label: "Models", render: () => <ModelsSettings /> },
  { id: "linear", label: "Linear", render: () => <LinearSettings /> },
  { id: "github", label: "GitHub mentions", render: () => <GithubTriggersSettings /> },
  { id: "slack", label: "Slack", render: () => <SlackSettings /> },
] as const;

export function SettingsPage() {
  const { tab } = useParams();
  const current = TABS.find((candidate) => candidate.id === tab);
  useDocumentTitle(current ? `Settings: ${current.label}` : "Settings");
  if (!current) return <Navigate to="/settings/repositories" replace />;
  return (
    <div className="page">
      <div className="page__header">
        <h1>Settings</h1>
      </div>
      <nav className="tabs settings__tabs" aria-label="Settings sections">
        {TABS.map((candidate) => (
          <NavLink key={candidate.id} to={`/settings/${candidate.id}`} className="tab">
            {candidate.label}
          </NavLink>
        ))}
      </nav>
      <div className="settings__body">{current.render()}</div>
    </div>
  );
}
