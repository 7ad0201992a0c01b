import type { SessionEvent } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import { describeOrigin } from "./origin";
import { participantsVersion } from "./participants";
import { currentRole, initialSessionView } from "./session-view";

describe("session origins", () => {
  it("name the dashboard and the API, and read a missing origin as the API", () => {
    expect(describeOrigin({ kind: "dashboard" })).toMatchObject({ label: "Dashboard" });
    expect(describeOrigin({ kind: "api" })).toMatchObject({ label: "API" });
    expect(describeOrigin(undefined)).toMatchObject({ label: "API" });
  });

  it("link an automation run to its automation, by name once known", () => {
    const origin = { kind: "automation" as const, automationId: "aut_1", runId: "run_1", trigger: "webhook" as const };
    expect(describeOrigin(origin, "Triage bugs")).toEqual({
      icon: "◷",
      label: "Automation “Triage bugs”",
      to: "/automations/aut_1",
      title: "Automation “Triage bugs”, started by a webhook",
    });
    expect(describeOrigin(origin)).toMatchObject({ label: "Automation", to: "/automations/aut_1" });
  });

  it("link a GitHub pull request out to the page the server recorded, a GitHub Enterprise Server's included", () => {
    const origin = { kind: "github" as const, repository: "acme/web", pullRequest: 42, commentId: 7 };
    const enterprise = describeOrigin({ ...origin, url: "https://ghe.example.com/acme/web/pull/42" });
    expect(enterprise).toMatchObject({ label: "GitHub PR acme/web#42", href: "https://ghe.example.com/acme/web/pull/42" });
    expect(enterprise.to).toBeUndefined();
    expect(describeOrigin({ ...origin, url: "http://ghe.internal:8080/acme/web/pull/42" }).href).toBe(
      "http://ghe.internal:8080/acme/web/pull/42",
    );
  });

  it("link an origin recorded before servers kept the pull request's page to github.com", () => {
    const view = describeOrigin({ kind: "github", repository: "acme/web", pullRequest: 42, commentId: 7 });
    expect(view).toMatchObject({ label: "GitHub PR acme/web#42", href: "https://github.com/acme/web/pull/42" });
    expect(view.to).toBeUndefined();
  });

  it("never link a GitHub origin to an address that is not http(s)", () => {
    for (const url of ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "not a url"]) {
      const view = describeOrigin({ kind: "github", repository: "acme/web", pullRequest: 42, url });
      expect(view, url).toMatchObject({ label: "GitHub PR acme/web#42" });
      expect(view.href, url).toBeUndefined();
    }
  });

  it("name Slack threads and Linear issues", () => {
    expect(describeOrigin({ kind: "slack", teamId: "T1", channelId: "C1", threadTs: "1.2" })).toMatchObject({
      label: "Slack thread",
      href: "https://app.slack.com/client/T1/C1/thread/C1-1.2",
    });
    expect(describeOrigin({ kind: "linear", agentSessionId: "a", issueId: "ENG-1" })).toMatchObject({ label: "Linear issue" });
  });
});

describe("participants", () => {
  const ada = { userId: "u_ada", name: "Ada" };
  const grace = { userId: "u_grace", name: "Grace" };
  const event = (seq: number, payload: SessionEvent["payload"]): SessionEvent => ({ seq, at: seq, key: `k${seq}`, payload });

  it("a role change or a join moves the roles list's version; other events do not", () => {
    expect(participantsVersion([])).toBe(0);
    const events = [
      event(1, { type: "participant.joined", participant: grace, role: "member" }),
      event(2, { type: "participant.role", participant: grace, role: "viewer", by: ada }),
      event(3, { type: "session.archived", by: ada }),
    ];
    expect(participantsVersion(events)).toBe(2);
  });

  it("my role follows presence (role changes) over the role I connected with", () => {
    const view = { ...initialSessionView(), role: "member" as const };
    expect(currentRole(view, "u_grace")).toBe("member");
    const presence = [{ participant: grace, role: "viewer" as const, status: "active" as const, typing: false, connections: 1 }];
    expect(currentRole({ ...view, presence }, "u_grace")).toBe("viewer");
    expect(currentRole({ ...view, presence }, "u_ada")).toBe("member");
  });
});
