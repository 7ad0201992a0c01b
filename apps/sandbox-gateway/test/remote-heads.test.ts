import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "@lookout/sandbox";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { lsRemoteCommand, lsRemoteHeads, RemoteHeads } from "../src/git/remote-heads";
import { startGitHubRemote, type GitHubRemote } from "./support/github-remote";

/**
 * The gateway's own read of a remote repository's branch heads (the warm pool's refresh), against
 * a GitHub-like remote over git smart HTTP (real `git http-backend`) behind an installation token.
 */
let dir: string;
let gitHome: string;
let remote: GitHubRemote;
/** Every process's command line, captured while the remote answers a git request. */
let commandLines: string[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "lookout-remote-heads-"));
  gitHome = join(dir, "git-home");
  mkdirSync(gitHome);
  commandLines = [];
  remote = await startGitHubRemote({ onRequest: () => commandLines.push(...allCommandLines()) });
});

afterEach(async () => {
  await remote.close();
  rmSync(dir, { recursive: true, force: true });
});

const credential = (password: string) => ({ username: "x-access-token", password });
const TIMEOUT_MS = 20_000;

function allCommandLines(): string[] {
  const lines: string[] = [];
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      lines.push(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" "));
    } catch {
      // The process ended while the list was read.
    }
  }
  return lines;
}

function recordingLogger(): { logger: Logger; lines: { level: string; msg: string; fields?: Record<string, unknown> }[] } {
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const logger: Logger = {
    debug: (msg, fields) => lines.push({ level: "debug", msg, ...(fields ? { fields } : {}) }),
    info: (msg, fields) => lines.push({ level: "info", msg, ...(fields ? { fields } : {}) }),
    warn: (msg, fields) => lines.push({ level: "warn", msg, ...(fields ? { fields } : {}) }),
    error: (msg, fields) => lines.push({ level: "error", msg, ...(fields ? { fields } : {}) }),
    child: () => logger,
  };
  return { logger, lines };
}

describe("a remote repository's branch heads", () => {
  it("reads every branch head with the read-only credential: a moved branch gives its new commit, a missing branch is missing", async () => {
    const source = { url: remote.url, credential: credential(remote.token) };
    const first = await lsRemoteHeads(source, { gitHome, timeoutMs: TIMEOUT_MS });
    expect(first).toEqual({ heads: new Map([["main", remote.main()]]) });
    if (!("heads" in first)) return;
    // Read, and no such branch: missing, which is not the same as unknown.
    expect(first.heads.has("lookout/ses-1")).toBe(false);
    expect(remote.repository.requests.every((request) => request.status === 200)).toBe(true);

    const before = remote.main();
    const moved = remote.moveMain();
    expect(moved).not.toBe(before);
    remote.repository.addHead("main", "refs/heads/lookout/ses-1", { "work.txt": "work\n" }, "session work");
    const second = await lsRemoteHeads(source, { gitHome, timeoutMs: TIMEOUT_MS });
    expect(second).toEqual({
      heads: new Map([
        ["main", moved],
        ["lookout/ses-1", remote.repository.sha("refs/heads/lookout/ses-1")],
      ]),
    });
  });

  it("a wrong credential is refused by the remote and reads nothing: the heads are unknown, not empty", async () => {
    const wrong = await lsRemoteHeads({ url: remote.url, credential: credential("ghs_revoked_token") }, { gitHome, timeoutMs: TIMEOUT_MS });
    expect(wrong).toEqual({ failure: expect.stringContaining("git ls-remote failed") as string });
    expect(JSON.stringify(wrong)).not.toContain("ghs_revoked_token");
    expect(remote.repository.requests).toEqual([{ service: "git-upload-pack", stage: "info/refs", status: 401 }]);
    expect(await lsRemoteHeads({ url: remote.url, credential: undefined }, { gitHome, timeoutMs: TIMEOUT_MS })).toEqual({
      failure: expect.stringContaining("no usable read-only credential") as string,
    });

    const heads = new RemoteHeads({ gitHome, logger: recordingLogger().logger });
    expect(await heads.read({ url: remote.url, credential: credential("ghs_revoked_token") }, 0)).toBeUndefined();
    expect((await heads.read({ url: remote.url, credential: credential(remote.token) }, 0))?.get("main")).toBe(remote.main());
  });

  it("puts the credential in no process's argv: not in the command it builds, nor in any process running while the remote answers", async () => {
    const basic = Buffer.from(`x-access-token:${remote.token}`).toString("base64");
    const { args, env } = lsRemoteCommand(remote.url, credential(remote.token), gitHome);
    expect(args).toEqual(["ls-remote", "--heads", "--", remote.url]);
    expect(Object.values(env)).toContain(`Authorization: Basic ${basic}`);

    expect(
      await lsRemoteHeads({ url: remote.url, credential: credential(remote.token) }, { gitHome, timeoutMs: TIMEOUT_MS }),
    ).toHaveProperty("heads");
    // The capture saw the gateway's git talking to the remote, and nothing of the credential anywhere.
    expect(commandLines.some((line) => line.includes(remote.url))).toBe(true);
    expect(commandLines.filter((line) => line.includes(remote.token) || line.includes(basic))).toEqual([]);
  });

  it("a remote that does not answer is unknown once the timeout passes, and its git processes are gone", async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/acme/app.git`;
    try {
      const read = await lsRemoteHeads({ url, credential: credential(remote.token) }, { gitHome, timeoutMs: 500 });
      expect(read).toEqual({ failure: "git ls-remote did not finish within 500 ms." });
      const deadline = Date.now() + 3_000;
      while (allCommandLines().some((line) => line.includes(url))) {
        if (Date.now() > deadline) throw new Error(`git processes for ${url} outlived the timeout`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it("shares a read among callers that accept its age, asks again once it is older, and logs an unreadable remote once per change", async () => {
    let nowMs = 1_000;
    const { logger, lines } = recordingLogger();
    const heads = new RemoteHeads({ gitHome, logger, now: () => nowMs });
    const good = { url: remote.url, credential: credential(remote.token) };
    const asks = () => remote.repository.requests.filter((request) => request.stage === "info/refs").length;

    const [a, b] = await Promise.all([heads.read(good, 15_000), heads.read(good, 15_000)]);
    expect(a?.get("main")).toBe(remote.main());
    expect(b).toBe(a);
    expect(asks()).toBe(1);
    nowMs += 14_999;
    expect(await heads.read(good, 15_000)).toBe(a);
    expect(asks()).toBe(1);
    nowMs += 1;
    const moved = remote.moveMain();
    expect((await heads.read(good, 15_000))?.get("main")).toBe(moved);
    expect(asks()).toBe(2);
    // A claim accepts only a read started now.
    await heads.read(good, 0);
    expect(asks()).toBe(3);

    const revoked = { url: remote.url, credential: credential("ghs_revoked_token") };
    for (let round = 0; round < 3; round++) expect(await heads.read(revoked, 0)).toBeUndefined();
    expect(await heads.read(good, 0)).toBeDefined();
    expect(await heads.read(revoked, 0)).toBeUndefined();
    expect(lines.map((line) => `${line.level} ${line.msg}`)).toEqual([
      "warn remote branch heads could not be read; its warm sandboxes are kept as they are",
      "info remote branch heads can be read again",
      "warn remote branch heads could not be read; its warm sandboxes are kept as they are",
    ]);
    expect(lines[0]?.fields).toMatchObject({ url: remote.url, reason: expect.stringContaining("git ls-remote failed") as string });
    expect(JSON.stringify(lines)).not.toContain("ghs_revoked_token");
  });
});
