import { readFileSync } from "node:fs";
import { BridgeEventPayload, BridgeMessage, ClientMessage, ServerMessage, SessionCommand, typesOf } from "@lookout/protocol";
import { describe, expect, it, vi } from "vitest";

// The app's route modules reach Durable Objects through these; registering routes never calls them.
vi.mock("agents", () => ({
  Agent: class {},
  getAgentByName: () => {
    throw new Error("Durable Objects are not reachable from this test.");
  },
}));
vi.mock("cloudflare:workers", () => ({ DurableObject: class {} }));

const API_DOC = readFileSync(new URL("../../../../docs/api.md", import.meta.url), "utf8");
const HTTP_METHODS = "GET|POST|PUT|PATCH|DELETE";
/** `GET /path`, `GET/POST /path?query`, `POST /path {body}`: the methods and the path. */
const ROUTE_SPAN = new RegExp(`^((?:${HTTP_METHODS})(?:/(?:${HTTP_METHODS}))*) (/[^\\s?{]*)(?:\\?\\S*)?(?: \\{[^}]*\\})?$`);

function cells(line: string): string[] {
  return line
    .split("|")
    .slice(1, -1)
    .map((cell) => cell.trim());
}

/** The code spans in the first column of the docs/api.md table whose header starts with `header`. */
function firstColumnSpans(header: string): string[] {
  const lines = API_DOC.split("\n");
  const start = lines.findIndex((line) => line.startsWith("|") && cells(line)[0] === header);
  if (start < 0) throw new Error(`docs/api.md has no table whose first column is headed "${header}".`);
  const spans: string[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    for (const match of (cells(line)[0] ?? "").matchAll(/`([^`]+)`/g)) spans.push(match[1] ?? "");
  }
  return spans;
}

/** What is in `expected` but not `actual`, and the other way round, sorted, for a message that names them. */
function difference(documented: Iterable<string>, real: Iterable<string>) {
  const doc = new Set(documented);
  const code = new Set(real);
  return {
    notDocumented: [...code].filter((entry) => !doc.has(entry)).sort(),
    documentedButMissing: [...doc].filter((entry) => !code.has(entry)).sort(),
  };
}

describe("docs/api.md", () => {
  it("lists exactly the routes the control plane mounts", async () => {
    const { app } = await import("../../src/app");
    // `app.use` middleware is registered as method ALL on a wildcard path; it is not a route.
    const mounted = app.routes
      .filter((route) => !(route.method === "ALL" && route.path.includes("*")))
      .map((route) => `${route.method} ${route.path}`);

    const unreadable: string[] = [];
    const documented = firstColumnSpans("route").flatMap((span) => {
      const match = ROUTE_SPAN.exec(span);
      if (!match?.[1] || !match[2]) {
        unreadable.push(span);
        return [];
      }
      const path = match[2];
      return match[1].split("/").map((method) => `${method} ${path}`);
    });

    expect(unreadable, "route cells must read `METHOD[/METHOD…] /full/path[?query][ {body}]`").toEqual([]);
    expect(difference(documented, mounted)).toEqual({ notDocumented: [], documentedButMissing: [] });
  });

  it.each([
    ["client → session", ClientMessage],
    ["session → client", ServerMessage],
    ["bridge → session", BridgeMessage],
    ["bridge event", BridgeEventPayload],
    ["session → bridge", SessionCommand],
  ] as const)("lists exactly the %s frame types the protocol defines", (header, schema) => {
    const documented = firstColumnSpans(header).map((span) => span.split(" ")[0] ?? "");
    expect(difference(documented, typesOf(schema))).toEqual({ notDocumented: [], documentedButMissing: [] });
  });
});
