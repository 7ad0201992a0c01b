import { type BridgeEventPayload, LookoutError, mintGitCredential } from "@lookout/protocol";
import { describe, expect, it } from "vitest";
import { CREDENTIAL_FORMATS, MIN_PARTIAL_SECRET_CHARS, Redactor, secretMarker } from "../../src/session/redaction";
import { mintSandboxToken } from "../../src/session/secret-values";

const DEPLOY_KEY = "dk-7Qz9!pX@4 w/Lm";
const STRIPE = "rk_live_51HxQpLmNoPqRsTuVwXyZ0123";

function redactor(): Redactor {
  return new Redactor([
    { name: "DEPLOY_KEY", value: DEPLOY_KEY },
    { name: "STRIPE_KEY", value: STRIPE },
    { name: "SHORT", value: "dev" },
    { name: "FLAG", value: "true" },
  ]);
}

/** One credential of each format recognised by its shape, with the label its marker shows. */
const CREDENTIAL_SAMPLES: [string, string][] = [
  ["GitHub token", `ghp_${"a1B2".repeat(9)}`],
  ["GitHub token", `ghs_${"Z9y8".repeat(9)}`],
  ["GitHub token", `github_pat_11ABCDEFG0${"x".repeat(60)}`],
  ["Anthropic API key", `sk-ant-api03-${"k".repeat(90)}`],
  ["OpenAI API key", `sk-proj-${"o".repeat(48)}`],
  ["Stripe key", `sk_live_${"s".repeat(24)}`],
  ["Slack token", "xoxb-1234567890-abcdefghij"],
  ["AWS access key", "AKIAIOSFODNN7EXAMPLE"],
  ["JSON Web Token", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"],
  ["private key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"],
];

const base64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");

/** Every prefix of `value` long enough to count as a partial secret. */
function partialsOf(value: string): string[] {
  return Array.from({ length: value.length - MIN_PARTIAL_SECRET_CHARS + 1 }, (_, i) => value.slice(0, MIN_PARTIAL_SECRET_CHARS + i));
}

describe("redacting values", () => {
  it("replaces every occurrence of a value with a marker naming the secret and counts them", () => {
    const result = redactor().redact(`export DEPLOY_KEY=${DEPLOY_KEY}\nagain: ${DEPLOY_KEY}.`);
    expect(result.text).toBe(`export DEPLOY_KEY=${secretMarker("DEPLOY_KEY")}\nagain: ${secretMarker("DEPLOY_KEY")}.`);
    expect(result.hidden).toBe(2);
  });

  it("changes nothing else: text without secrets, values too short to hide, words that resemble prefixes", () => {
    const text = "Set FLAG=true on dev, then run the task-list; risk-free. Tokens look like ghp_… or sk-ant-… ok.";
    expect(redactor().redact(text)).toEqual({ text, hidden: 0 });
    expect(new Redactor([]).redact(text)).toEqual({ text, hidden: 0 });
  });

  it("hides a value that contains another as one marker under the longer value's name", () => {
    const inner = "shared-prefix-value";
    const outer = `${inner}-and-more`;
    const both = new Redactor([
      { name: "INNER", value: inner },
      { name: "OUTER", value: outer },
    ]);
    expect(both.redact(`a ${outer} b ${inner} c`)).toEqual({
      text: `a ${secretMarker("OUTER")} b ${secretMarker("INNER")} c`,
      hidden: 2,
    });
  });

  it("hides the encodings tools print: URL, form and JSON escaping, the trimmed value", () => {
    const quoted = 'pa"ss\\word-42';
    const r = new Redactor([
      { name: "DEPLOY_KEY", value: DEPLOY_KEY },
      { name: "QUOTED", value: quoted },
      { name: "PASTED", value: "  padded-token-value\n" },
    ]);
    const samples = [
      `https://host/?key=${encodeURIComponent(DEPLOY_KEY)}&x=1`,
      `key=${encodeURIComponent(DEPLOY_KEY).replace(/%20/g, "+")}&x=1`,
      `{"password":${JSON.stringify(quoted)}}`,
      "token: padded-token-value;",
    ];
    for (const sample of samples) {
      const result = r.redact(sample);
      expect(result.hidden, sample).toBe(1);
      expect(result.text).toContain("[secret hidden: ");
    }
    expect(r.redact(samples[0]!).text).toBe(`https://host/?key=${secretMarker("DEPLOY_KEY")}&x=1`);
  });

  it("hides a value inside base64 at every alignment, in both alphabets", () => {
    const r = redactor();
    for (const user of ["", "u:", "us:", "use:"]) {
      const encoded = base64(`${user}${DEPLOY_KEY}`);
      for (const sample of [`Authorization: Basic ${encoded}`, `b64url ${encoded.replace(/\+/g, "-").replace(/\//g, "_")}`]) {
        const result = r.redact(sample);
        expect(result.hidden, sample).toBe(1);
        // Left of the encoding: the prefix's own characters and the few that mix in its bits.
        const left = result.text.replace(/\[secret hidden: [^\]]+\]/, "");
        expect(left.length).toBeLessThanOrEqual(sample.length - encoded.length + Math.ceil((user.length * 8) / 6) + 3);
      }
    }
  });
});

describe("redacting credential formats", () => {
  it("hides Lookout's own credentials: sandbox tokens and git credentials", async () => {
    const token = mintSandboxToken();
    expect(token).toMatch(/^lks_[A-Za-z0-9_-]{43}$/);
    const credential = await mintGitCredential("git-secret", {
      sid: "ses_1",
      repo: "/srv/repo",
      ref: "refs/heads/lookout/ses_1",
      exp: Date.UTC(2030, 0, 1),
    });
    const r = new Redactor([]);
    expect(r.redact(`Bearer ${token}`).text).toBe(`Bearer ${secretMarker("Lookout sandbox token")}`);
    expect(r.redact(`password=${credential}\n`).text).toBe(`password=${secretMarker("Lookout git credential")}\n`);
  });

  it.each(CREDENTIAL_SAMPLES)("hides a %s", (label, credential) => {
    expect(new Redactor([]).redact(`before ${credential} after`)).toEqual({ text: `before ${secretMarker(label)} after`, hidden: 1 });
  });

  it("lists, for every format, literal text that each of its matches contains (texts without any are not searched)", async () => {
    const samples = [
      ...CREDENTIAL_SAMPLES.map(([, credential]) => credential),
      mintSandboxToken(),
      await mintGitCredential("git-secret", {
        sid: "ses_1",
        repo: "/srv/repo",
        ref: "refs/heads/lookout/ses_1",
        exp: Date.UTC(2030, 0, 1),
      }),
      "https://deploy:hunter2hunter2@git.example.com/repo.git",
      "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA",
    ];
    for (const format of CREDENTIAL_FORMATS) {
      const matched = samples.filter((sample) => new RegExp(format.whole.source).test(sample));
      expect(matched.length, format.label).toBeGreaterThan(0);
      for (const sample of matched)
        expect(
          format.prefixes.some((prefix) => sample.includes(prefix)),
          `${format.label}: ${sample}`,
        ).toBe(true);
    }
  });

  it("hides the password of a URL that carries credentials, and a private key whose end was cut off", () => {
    const r = new Redactor([]);
    expect(r.redact("remote: https://deploy:hunter2hunter2@git.example.com/repo.git").text).toBe(
      `remote: https://deploy:${secretMarker("URL password")}@git.example.com/repo.git`,
    );
    expect(r.redact("key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA").text).toBe(`key:\n${secretMarker("private key")}`);
  });

  it("names a known secret rather than its format when both match", () => {
    const key = `sk-ant-api03-${"q".repeat(40)}`;
    expect(new Redactor([{ name: "ANTHROPIC_API_KEY", value: key }]).redact(`x ${key} y`).text).toBe(
      `x ${secretMarker("ANTHROPIC_API_KEY")} y`,
    );
  });
});

describe("redacting streamed text (an evolving row)", () => {
  /** Every state a message row goes through when `text` streams in one character at a time. */
  const statesOf = (text: string): string[] => Array.from({ length: text.length }, (_, i) => text.slice(0, i + 1));

  it("never shows a stored state with a partial value that the next chunk completes", () => {
    const message = `The deploy key is ${DEPLOY_KEY} — keep it safe.`;
    const r = redactor();
    for (const state of statesOf(message)) {
      const shown = r.redact(state, { open: true }).text;
      for (const partial of partialsOf(DEPLOY_KEY)) expect(shown, `state ${JSON.stringify(state)}`).not.toContain(partial);
    }
    expect(r.redact(message, { open: true }).text).toBe(`The deploy key is ${secretMarker("DEPLOY_KEY")} — keep it safe.`);
  });

  it("would show those partials if the text were redacted as if it were complete", () => {
    const r = redactor();
    const midway = `The deploy key is ${DEPLOY_KEY.slice(0, 10)}`;
    expect(r.redact(midway).text).toContain(DEPLOY_KEY.slice(0, 10));
    expect(r.redact(midway, { open: true }).text).toBe(`The deploy key is ${secretMarker("DEPLOY_KEY")}`);
  });

  it("never shows a credential format's body while it streams", () => {
    const token = `ghs_${"Ab3".repeat(12)}`;
    const r = new Redactor([]);
    for (const state of statesOf(`pushing with ${token} now`)) {
      expect(r.redact(state, { open: true }).text).not.toContain("ghs_");
    }
  });

  it("gives a trailing run back once the stream shows it was not a secret", () => {
    const r = redactor();
    expect(r.redact("see dk-7Qz", { open: true }).text).toBe(`see ${secretMarker("DEPLOY_KEY")}`);
    expect(r.redact("see dk-7Qz other", { open: true })).toEqual({ text: "see dk-7Qz other", hidden: 0 });
  });

  it("hides both halves of a value that the bridge's truncation cut in two", () => {
    const head = `output ${DEPLOY_KEY.slice(0, 8)}`;
    const tail = `${DEPLOY_KEY.slice(8)} end`;
    const cut = "\n… [12345 characters truncated] …\n";
    const result = redactor().redact(`${head}${cut}${tail}`);
    expect(result.text).toBe(`output ${secretMarker("DEPLOY_KEY")}${cut}${secretMarker("DEPLOY_KEY")} end`);
  });
});

describe("redacting bridge events", () => {
  const promptId = "pmt_1";

  it("redacts every string of an event, nested values and keys included, and counts what it hid", () => {
    const event: BridgeEventPayload = {
      type: "tool.call",
      promptId,
      callId: "call-1",
      tool: "bash",
      title: `curl -H 'Authorization: ${STRIPE}'`,
      input: { command: `echo ${DEPLOY_KEY}`, env: [{ [DEPLOY_KEY]: true }], retries: 3 },
      state: "completed",
      output: `${DEPLOY_KEY}\n`,
      error: `failed with ${STRIPE}`,
      startedAt: 1,
      endedAt: 2,
    };
    const redacted = redactor().redactEvent(event);
    expect(redacted).toEqual({
      ...event,
      title: `curl -H 'Authorization: ${secretMarker("STRIPE_KEY")}'`,
      input: { command: `echo ${secretMarker("DEPLOY_KEY")}`, env: [{ [secretMarker("DEPLOY_KEY")]: true }], retries: 3 },
      output: `${secretMarker("DEPLOY_KEY")}\n`,
      error: `failed with ${secretMarker("STRIPE_KEY")}`,
      secretsHidden: 5,
    });
  });

  it("returns an event without secrets as it came", () => {
    const event: BridgeEventPayload = { type: "message.text", promptId, messageId: "m1", text: "all clear", role: "assistant" };
    expect(redactor().redactEvent(event)).toBe(event);
  });

  it("treats a message's text as open and a finished tool's output as complete", () => {
    const partial = `key ${DEPLOY_KEY.slice(0, 6)}`;
    const message = redactor().redactEvent({ type: "message.text", promptId, messageId: "m1", text: partial, role: "assistant" });
    expect(message).toMatchObject({ text: `key ${secretMarker("DEPLOY_KEY")}`, secretsHidden: 1 });
    const tool = redactor().redactEvent({
      type: "tool.call",
      promptId,
      callId: "c1",
      tool: "bash",
      input: {},
      state: "completed",
      output: partial,
    });
    expect(tool).toMatchObject({ output: partial });
  });

  it("ignores a secretsHidden count the bridge made up", () => {
    const event = { type: "agent.error", promptId, message: "plain", secretsHidden: 7 } as const;
    expect(redactor().redactEvent(event)).toEqual({ type: "agent.error", promptId, message: "plain" });
  });

  it("refuses an event whose id would carry the marker rather than store the secret", () => {
    const event: BridgeEventPayload = { type: "agent.error", promptId: `pmt_${STRIPE}`, message: "x" };
    expect(() => redactor().redactEvent(event)).toThrow(LookoutError);
  });
});
