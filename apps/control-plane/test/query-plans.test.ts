import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { AutomationStore } from "../src/db/automations";
import { OutboxReportStore } from "../src/db/outbox-reports";
import { SessionIndexStore } from "../src/db/sessions-index";
import { TriggerDeliveryStore } from "../src/db/trigger-deliveries";
import { TriggerRunStore } from "../src/db/trigger-runs";
import { SlackStore } from "../src/integrations/slack/store";
import { newestRepositoryImage, RepositoryImageStore } from "../src/repository-images";
import { SandboxPoolStore } from "../src/sandbox-pool/store";

interface Recorded {
  sql: string;
  args: unknown[];
}

/**
 * The D1 binding, recording every statement a store binds, so the plans checked are those of the
 * queries the stores really send (not copies of them that could drift).
 */
function recordingDb(recorded: Recorded[]): D1Database {
  return new Proxy(env.DB, {
    get(target, property) {
      if (property !== "prepare") {
        const value: unknown = Reflect.get(target, property);
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      }
      return (sql: string) => {
        const statement = target.prepare(sql);
        const bind = statement.bind.bind(statement);
        recorded.push({ sql, args: [] });
        const entry = recorded[recorded.length - 1]!;
        statement.bind = (...args: unknown[]) => {
          entry.args = args;
          return bind(...args);
        };
        return statement;
      };
    },
  });
}

/** SQLite's plan lines (`SEARCH s USING INDEX …`, `SCAN t`, `USE TEMP B-TREE FOR ORDER BY`). */
async function plan({ sql, args }: Recorded): Promise<string[]> {
  const rows = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
    .bind(...args)
    .all<{ detail: string }>();
  return rows.results.map((row) => row.detail);
}

/**
 * Plan lines that read a whole table instead of using an index, and with `sorts` those that sort in a
 * temporary tree: a page of a list must come in index order, while sorting the few rows an index
 * found (the runs of one prompt, the runs in flight) costs nothing.
 */
function fullScans(lines: readonly string[], { sorts }: { sorts: boolean }): string[] {
  return lines.filter(
    (line) =>
      (/^SCAN \w+/.test(line) &&
        !/USING (COVERING )?INDEX|USING INTEGER PRIMARY KEY/.test(line) &&
        !/^SCAN (c|CONSTANT ROW)\b/.test(line)) ||
      (sorts && /TEMP B-TREE/.test(line)),
  );
}

/** Runs `use` against recording stores and returns each statement it sent with its plan. */
async function plans(use: (db: D1Database) => Promise<unknown>): Promise<{ sql: string; plan: string[] }[]> {
  const recorded: Recorded[] = [];
  // Only the statements matter: on an empty index some calls find nothing, or fail a foreign key.
  await use(recordingDb(recorded)).catch(() => undefined);
  expect(recorded.length).toBeGreaterThan(0);
  return Promise.all(recorded.map(async (statement) => ({ sql: statement.sql.replace(/\s+/g, " "), plan: await plan(statement) })));
}

const NOW = Date.UTC(2026, 0, 1);
const ID = "00000000-0000-4000-8000-000000000001";

describe("D1 query plans on the hot paths use indexes", () => {
  const sessionListings: [string, Parameters<SessionIndexStore["list"]>[0]][] = [
    ["the session list", { limit: 25 }],
    ["archived sessions", { limit: 25, archived: true }],
    ["sessions by status", { limit: 25, status: "running" }],
    ["sessions of a repository", { limit: 25, repositoryId: ID }],
    ["sessions of an owner", { limit: 25, ownerId: ID }],
    ["the next page", { limit: 25, cursor: btoa(JSON.stringify({ at: NOW, id: ID })).replace(/=+$/, "") }],
    ["a search by title or repository", { limit: 25, q: "fix the login" }],
  ];
  for (const [name, query] of sessionListings) {
    it(`${name}: no full scan and no sort outside an index`, async () => {
      for (const statement of await plans((db) => new SessionIndexStore(db).list(query))) {
        expect({ sql: statement.sql, scans: fullScans(statement.plan, { sorts: true }) }).toEqual({ sql: statement.sql, scans: [] });
      }
    });
  }

  const triggerPaths: [string, (db: D1Database) => Promise<unknown>][] = [
    [
      "reserving a run under the caps (and settling a skipped delivery)",
      (db) =>
        new TriggerRunStore(db).reserve(
          {
            id: ID,
            automationId: ID,
            deliveryRecordId: ID,
            trigger: "cron",
            dedupeKey: null,
            actorUserId: null,
            scheduledFor: NOW,
            now: NOW,
          },
          { maxConcurrentRuns: 1, maxNewSessionsPerHour: 10, maxRunningSandboxes: 10 },
        ),
    ],
    ["runs past their deadline", (db) => new TriggerRunStore(db).overdue(NOW, NOW)],
    ["the oldest run in flight", (db) => new TriggerRunStore(db).oldestInFlight()],
    ["the run of a prompt", (db) => new TriggerRunStore(db).forPrompt(ID, ID)],
    ["an automation's runs", (db) => new TriggerRunStore(db).listForAutomation(ID, null, 25)],
    [
      "recording a delivery once",
      (db) =>
        new TriggerDeliveryStore(db).record({
          id: ID,
          source: "webhook",
          deliveryId: "d-1",
          automationId: ID,
          dedupeKey: null,
          receivedAt: NOW,
        }),
    ],
    ["expiring unprocessed deliveries", (db) => new TriggerDeliveryStore(db).expireUnprocessed(NOW)],
    ["the oldest unprocessed delivery", (db) => new TriggerDeliveryStore(db).oldestUnprocessedAt()],
    ["due automations", (db) => new AutomationStore(db).due(NOW, 25)],
    ["the next automation due", (db) => new AutomationStore(db).nextDueAt()],
    ["due outbox reports", (db) => new OutboxReportStore(db).dueKeys(NOW, 25)],
    ["claiming an outbox report", (db) => new OutboxReportStore(db).claim("key", NOW, NOW + 60_000)],
    ["the next outbox attempt", (db) => new OutboxReportStore(db).nextAttemptAt()],
    ["the newest image a session starts from", (db) => newestRepositoryImage(db, ID, "main")],
    ["a repository's image history", (db) => new RepositoryImageStore(db).list(ID, 20)],
    ["image builds running", (db) => new RepositoryImageStore(db).building()],
    ["superseded images' snapshots to delete", (db) => new RepositoryImageStore(db).retiredSnapshots(NOW, 20)],
    ["whether a superseded image's snapshot waits", (db) => new RepositoryImageStore(db).hasRetiredSnapshots()],
    ["recording a snapshot deleted", (db) => new RepositoryImageStore(db).snapshotDeleted(ID, NOW)],
    // Reads every repository (the pool weighs each); the per-repository activity must come from an index.
    ["the warm pool's wishes", (db) => new SandboxPoolStore(db).wishes(NOW)],
    [
      "queueing a running prompt's step",
      (db) =>
        new OutboxReportStore(db).upsertProgress(
          "ses:prm:progress",
          "ses:prm:prompt.finished",
          {
            kind: "progress",
            sessionId: ID,
            origin: { kind: "slack", teamId: "T1", channelId: "C1", threadTs: "1.2" },
            promptId: ID,
            step: { kind: "thinking", text: "Thinking" },
            actions: [],
            at: NOW,
          },
          NOW,
        ),
    ],
    ["closing a step the final report overtook", (db) => new OutboxReportStore(db).supersedeProgress("ses:prm:progress", NOW)],
    ["whether a report was queued", (db) => new OutboxReportStore(db).exists("ses:prm:prompt.finished")],
    ["marking a step delivered", (db) => new OutboxReportStore(db).markDelivered("ses:prm:progress", NOW, 1, "{}")],
    ["expired Slack pickers", (db) => new SlackStore(db).expiredPickers(NOW, 25)],
    ["the next Slack picker expiry", (db) => new SlackStore(db).nextPickerExpiry()],
  ];
  for (const [name, use] of triggerPaths) {
    it(`${name}: no full scan`, async () => {
      for (const statement of await plans(use)) {
        expect({ sql: statement.sql, scans: fullScans(statement.plan, { sorts: false }) }).toEqual({ sql: statement.sql, scans: [] });
      }
    });
  }

  it("the rule sees a full scan and a sort outside an index", async () => {
    const lines = await plan({ sql: "SELECT * FROM sessions WHERE title = ? ORDER BY created_at", args: ["x"] });
    expect(fullScans(lines, { sorts: true })).toEqual(["SCAN sessions", "USE TEMP B-TREE FOR ORDER BY"]);
    expect(fullScans(lines, { sorts: false })).toEqual(["SCAN sessions"]);
  });
});
