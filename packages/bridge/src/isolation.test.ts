import { describe, expect, it } from "vitest";
import { IsolationError, planIsolation, procReadableBySameUid, resolveAgentUser, type IsolationFacts } from "./isolation";

const PASSWD = [
  "root:x:0:0:root:/root:/bin/bash",
  "sandbox:x:1000:1000:Lookout sandbox:/home/sandbox:/bin/bash",
  "tools:x:1001:50::/home/tools:/bin/sh",
  "broken line",
  "",
].join("\n");

const sandbox = { uid: 1000, gid: 1000, name: "sandbox" };
const asRoot: IsolationFacts = {
  bridgeUid: 0,
  executableReadable: true,
  procReadable: false,
  executable: "/usr/local/bin/node",
  agentUserSpec: "sandbox",
  agentUser: sandbox,
};
const executeOnly: IsolationFacts = {
  bridgeUid: 1000,
  executableReadable: false,
  procReadable: false,
  executable: "/opt/lookout/libexec/node",
  agentUserSpec: "sandbox",
  agentUser: sandbox,
};
const plainUser: IsolationFacts = { ...executeOnly, executableReadable: true, procReadable: true, executable: "/usr/bin/node" };

describe("planIsolation", () => {
  it("gives the provider's choice when it holds", () => {
    expect(planIsolation("separate-user", asRoot)).toEqual({ mode: "separate-user", agentUser: sandbox });
    expect(planIsolation("non-dumpable", executeOnly)).toEqual({ mode: "non-dumpable" });
    expect(planIsolation("none", asRoot)).toMatchObject({ mode: "none", why: expect.stringMatching(/provider chose/) });
  });

  it("refuses a choice that does not hold instead of pretending", () => {
    expect(() => planIsolation("separate-user", executeOnly)).toThrow(IsolationError);
    expect(() => planIsolation("separate-user", executeOnly)).toThrow(/runs as uid 1000, not as root/);
    expect(() => planIsolation("separate-user", { ...asRoot, agentUser: undefined })).toThrow(/there is no user "sandbox"/);
    expect(() => planIsolation("separate-user", { ...asRoot, agentUserSpec: "0", agentUser: { uid: 0, gid: 0, name: "root" } })).toThrow(
      /is root/,
    );
    expect(() => planIsolation("non-dumpable", plainUser)).toThrow(/executable \/usr\/bin\/node is readable/);
    // Execute-only, yet started so that the kernel left it dumpable (exec'd by a process holding capabilities).
    expect(() => planIsolation("non-dumpable", { ...executeOnly, procReadable: true })).toThrow(/can still open the bridge's \/proc/);
    expect(() => planIsolation("non-dumpable", asRoot)).toThrow(/runs as root/);
  });

  it("works out the strongest that holds when the provider chose none", () => {
    expect(planIsolation(undefined, asRoot)).toEqual({ mode: "separate-user", agentUser: sandbox });
    expect(planIsolation(undefined, executeOnly)).toEqual({ mode: "non-dumpable" });
    expect(planIsolation(undefined, plainUser)).toMatchObject({ mode: "none", why: expect.stringMatching(/neither holds/) });
    expect(planIsolation(undefined, { ...asRoot, agentUser: undefined })).toMatchObject({ mode: "none" });
  });
});

describe("resolveAgentUser", () => {
  it("resolves names through passwd, and uids with or without it", () => {
    expect(resolveAgentUser("sandbox", PASSWD)).toEqual(sandbox);
    expect(resolveAgentUser("tools", PASSWD)).toEqual({ uid: 1001, gid: 50, name: "tools" });
    expect(resolveAgentUser("1001", PASSWD)).toEqual({ uid: 1001, gid: 50, name: "tools" });
    expect(resolveAgentUser("2000", PASSWD)).toEqual({ uid: 2000, gid: 2000, name: undefined });
    expect(resolveAgentUser("2000:3000", "")).toEqual({ uid: 2000, gid: 3000, name: undefined });
    expect(resolveAgentUser("nobody-here", PASSWD)).toBeUndefined();
  });
});

describe("procReadableBySameUid", () => {
  it("is true for a process started from a readable executable (this one): a child of its uid opens its environ", () => {
    // The false case needs a non-dumpable process and a non-root user: test/token-isolation.e2e.test.ts.
    expect(procReadableBySameUid()).toBe(true);
  });
});
