import { BridgeEventPayload, GIT_CREDENTIAL_START, LookoutError, SANDBOX_TOKEN_PREFIX, toBase64Url } from "@lookout/protocol";

/**
 * Hides secret values in what the bridge reports before the session stores or broadcasts it: the
 * log is shared with every participant and later quoted in Slack, Linear and GitHub reports.
 *
 * A redactor is built from the session's named secrets (the sandbox's environment secrets and its
 * token). It replaces each value, its common printed encodings (URL, form and JSON escaping, and
 * base64 at any alignment inside a longer encoded string), and anything shaped like a well-known
 * credential (Lookout's sandbox tokens and git credentials, GitHub, Anthropic, OpenAI, Stripe,
 * Slack, AWS, JWTs, private keys, passwords in URLs) with `[secret hidden: NAME]`.
 *
 * Streamed text (a message's cumulative text, a running tool's output) is redacted whole on every
 * update, so a value split across two chunks is hidden as soon as the second one arrives. While
 * such a field is still open, a trailing run that begins a value (at least
 * `MIN_PARTIAL_SECRET_CHARS` long) or begins a credential format is hidden too: no stored or
 * broadcast state shows more than the first `MIN_PARTIAL_SECRET_CHARS - 1` characters of a value
 * that the next chunk completes. The same holds on both sides of a cut where the bridge truncated
 * a long string. A run hidden that way reappears if the next chunk shows it was not a secret; one
 * that is still open when the stream ends stays hidden.
 *
 * Redaction catches secrets printed by accident. It does not stop a participant who tells the
 * agent to transform a value (reverse it, split it with spaces): the sandbox is the boundary.
 */

/**
 * Values shorter than this are not hidden: `1`, `true` or `dev` occur everywhere in ordinary
 * text, so hiding them would mangle the log, and a value that short is no secret worth the name.
 */
export const MIN_SECRET_CHARS = 6;

/** A trailing run of at least this many characters that begins a secret is hidden while a stream is open. */
export const MIN_PARTIAL_SECRET_CHARS = 3;

/** Every sandbox token starts with `SANDBOX_TOKEN_PREFIX` (protocol), so one is recognised even when its value is not known. */
export { SANDBOX_TOKEN_PREFIX };

/** What replaces a secret in the log. */
export function secretMarker(label: string): string {
  return `[secret hidden: ${label}]`;
}

export interface NamedSecret {
  /** Shown in the marker: the environment variable's name. */
  name: string;
  value: string;
}

interface CredentialFormat {
  label: string;
  /**
   * Literal text that every match of `whole` and of `started` contains: a text with none of any
   * format's is not searched further (most streamed text, on every update).
   */
  prefixes: readonly string[];
  /** A whole credential (global, for `matchAll`). */
  whole: RegExp;
  /** A credential that has begun at the end of an open text and may go on (anchored at the end). */
  started?: RegExp;
}

/**
 * Credentials recognised by their shape. Short, common prefixes (`sk-`, `xox`) must start a word,
 * so `task-list` or `risk-free` never look like one.
 */
export const CREDENTIAL_FORMATS: readonly CredentialFormat[] = [
  { label: "Lookout sandbox token", prefixes: [SANDBOX_TOKEN_PREFIX], whole: /lks_[A-Za-z0-9_-]{20,}/g, started: /lks_[A-Za-z0-9_-]*$/ },
  // A compact JWS with the git credential's fixed header (packages/protocol/src/git-credential.ts);
  // listed before JWTs so it is named as what it is. The signature is the secret part.
  {
    label: "Lookout git credential",
    prefixes: [GIT_CREDENTIAL_START],
    whole: new RegExp(`${GIT_CREDENTIAL_START.replace(".", "\\.")}[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{16,}`, "g"),
    started: new RegExp(`${GIT_CREDENTIAL_START.replace(".", "\\.")}[A-Za-z0-9_-]*(?:\\.[A-Za-z0-9_-]*)?$`),
  },
  // Personal, OAuth, user-to-server, installation (what sandboxes push with) and refresh tokens.
  {
    label: "GitHub token",
    prefixes: ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
    whole: /(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}/g,
    started: /(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]*$/,
  },
  { label: "GitHub token", prefixes: ["github_pat_"], whole: /github_pat_[A-Za-z0-9_]{22,}/g, started: /github_pat_[A-Za-z0-9_]*$/ },
  { label: "Anthropic API key", prefixes: ["sk-ant-"], whole: /\bsk-ant-[A-Za-z0-9_-]{20,}/g, started: /\bsk-ant-[A-Za-z0-9_-]*$/ },
  { label: "OpenAI API key", prefixes: ["sk-"], whole: /\bsk-(?!ant-)[A-Za-z0-9_-]{20,}/g, started: /\bsk-(?!ant-)[A-Za-z0-9_-]*$/ },
  {
    label: "Stripe key",
    prefixes: ["sk_live_", "sk_test_", "rk_live_", "rk_test_"],
    whole: /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}/g,
    started: /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]*$/,
  },
  { label: "Slack token", prefixes: ["xox"], whole: /\bxox[abposr]-[A-Za-z0-9-]{10,}/g, started: /\bxox[abposr]-[A-Za-z0-9-]*$/ },
  {
    label: "AWS access key",
    prefixes: ["AKIA", "ASIA"],
    whole: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g,
    started: /\b(?:AKIA|ASIA)[0-9A-Z]{0,15}$/,
  },
  {
    label: "JSON Web Token",
    prefixes: ["eyJ"],
    whole: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/g,
    started: /\beyJ[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)?$/,
  },
  // A key without its END line (truncated output, or still streaming) is hidden to the end of the text.
  {
    label: "private key",
    prefixes: ["-----BEGIN "],
    whole: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g,
  },
  // `https://user:password@host`, as git prints a remote that carries its credentials.
  { label: "URL password", prefixes: ["://"], whole: /(?<=:\/\/[^\s/:@]+:)[^\s/@]{6,}(?=@)/g },
];

/** Any format's literal text: a text that does not match cannot hold a credential format. */
const CREDENTIAL_HINT = new RegExp(
  [...new Set(CREDENTIAL_FORMATS.flatMap((format) => format.prefixes))]
    .map((prefix) => prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join("|"),
);

/**
 * Where the bridge cut a long string short (`truncateMiddle` in packages/bridge/src/translator.ts):
 * a value may end just before the cut or begin just after it.
 */
const TRUNCATION_CUT = /\n… \[\d+ characters truncated\] …\n/g;

interface Needle {
  label: string;
  text: string;
}

interface Span {
  start: number;
  end: number;
  label: string;
  /** Named secrets win the label over a credential format that covers the same text. */
  named: boolean;
}

/** Counts hidden places across one event's strings. */
interface Tally {
  hidden: number;
}

export class Redactor {
  private readonly needles: Needle[];

  constructor(secrets: readonly NamedSecret[]) {
    const labels = new Map<string, string>();
    for (const secret of secrets) {
      for (const form of printedForms(secret.value)) if (!labels.has(form)) labels.set(form, secret.name);
    }
    // Longest first, so a value that contains another is reported under its own name; overlapping
    // matches are merged into one marker either way.
    this.needles = [...labels].map(([text, label]) => ({ text, label })).sort((left, right) => right.text.length - left.text.length);
  }

  /**
   * `text` with every secret replaced by its marker, and how many places were hidden. `open`
   * says more text may still be appended (a streamed field): a trailing partial secret is hidden too.
   */
  redact(text: string, options: { open?: boolean } = {}): { text: string; hidden: number } {
    const spans = this.spans(text, options.open ?? false);
    if (spans.length === 0) return { text, hidden: 0 };
    spans.sort((left, right) => left.start - right.start || right.end - left.end || Number(right.named) - Number(left.named));
    let out = "";
    let cursor = 0;
    let hidden = 0;
    let current: Span | null = null;
    const flush = (span: Span): void => {
      out += text.slice(cursor, span.start) + secretMarker(span.label);
      cursor = span.end;
      hidden += 1;
    };
    for (const span of spans) {
      if (current && span.start < current.end) {
        current.end = Math.max(current.end, span.end);
        continue;
      }
      if (current) flush(current);
      current = { ...span };
    }
    if (current) flush(current);
    return { text: out + text.slice(cursor), hidden };
  }

  /**
   * The event with every string in it redacted (nested ones and object keys included) and
   * `secretsHidden` set to the number of hidden places; the bridge's own `secretsHidden` is
   * ignored. An event in which nothing was hidden is returned as it came. A redacted event is
   * validated again, and refused if a marker made it invalid (a secret inside an id or a
   * length-limited field), so nothing unredacted is ever stored in its place.
   */
  redactEvent(event: BridgeEventPayload): BridgeEventPayload {
    const tally: Tally = { hidden: 0 };
    const open = streamingField(event);
    const redacted: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(event)) {
      if (field === "secretsHidden") continue;
      redacted[field] = typeof value === "string" ? this.redactCounted(value, field === open, tally) : this.redactJson(value, tally);
    }
    if (tally.hidden === 0 && !("secretsHidden" in event)) return event;
    const checked = BridgeEventPayload.safeParse(tally.hidden > 0 ? { ...redacted, secretsHidden: tally.hidden } : redacted);
    if (!checked.success) {
      throw new LookoutError(
        "VALIDATION_FAILED",
        `The ${event.type} event was refused: a secret sits in a field that cannot hold the "${secretMarker("NAME")}" marker.`,
      );
    }
    return checked.data;
  }

  private redactCounted(text: string, open: boolean, tally: Tally): string {
    const result = this.redact(text, { open });
    tally.hidden += result.hidden;
    return result.text;
  }

  private redactJson(value: unknown, tally: Tally): unknown {
    if (typeof value === "string") return this.redactCounted(value, false, tally);
    if (Array.isArray(value)) return value.map((item: unknown) => this.redactJson(item, tally));
    if (typeof value === "object" && value !== null) {
      return Object.fromEntries(
        Object.entries(value).map(([key, item]) => [this.redactCounted(key, false, tally), this.redactJson(item, tally)]),
      );
    }
    return value;
  }

  private spans(text: string, open: boolean): Span[] {
    const spans: Span[] = [];
    for (const needle of this.needles) {
      for (let at = text.indexOf(needle.text); at >= 0; at = text.indexOf(needle.text, at + 1)) {
        spans.push({ start: at, end: at + needle.text.length, label: needle.label, named: true });
      }
    }
    const formats = CREDENTIAL_HINT.test(text);
    for (const format of formats ? CREDENTIAL_FORMATS : []) {
      for (const match of text.matchAll(format.whole)) {
        spans.push({ start: match.index, end: match.index + match[0].length, label: format.label, named: false });
      }
    }
    const cuts = [...text.matchAll(TRUNCATION_CUT)];
    const openEnds = cuts.map((cut) => cut.index);
    if (open) openEnds.push(text.length);
    for (const end of openEnds) spans.push(...this.startedBefore(text, end, formats));
    for (const cut of cuts) spans.push(...this.finishedAfter(text, cut.index + cut[0].length));
    return spans;
  }

  /**
   * Runs ending at `end` that begin a value or a credential which may go on past `end`; `formats`
   * says whether `text` holds any credential format's literal text at all.
   */
  private startedBefore(text: string, end: number, formats: boolean): Span[] {
    const spans: Span[] = [];
    for (const needle of this.needles) {
      const length = partialPrefixBefore(text, end, needle.text);
      if (length > 0) spans.push({ start: end - length, end, label: needle.label, named: true });
    }
    if (!formats) return spans;
    const before = text.slice(0, end);
    for (const format of CREDENTIAL_FORMATS) {
      const match = format.started?.exec(before);
      if (match) spans.push({ start: match.index, end, label: format.label, named: false });
    }
    return spans;
  }

  /** Runs starting at `start` (just after a cut) that finish a value begun before the cut. */
  private finishedAfter(text: string, start: number): Span[] {
    const spans: Span[] = [];
    for (const needle of this.needles) {
      const length = partialSuffixAfter(text, start, needle.text);
      if (length > 0) spans.push({ start, end: start + length, label: needle.label, named: true });
    }
    return spans;
  }
}

/** The field of an event that may still grow: a message's text, a tool's output before it finished. */
function streamingField(event: BridgeEventPayload): string | null {
  if (event.type === "message.text") return "text";
  if (event.type === "tool.call" && (event.state === "pending" || event.state === "running")) return "output";
  return null;
}

/** The longest run ending at `end` (at least `MIN_PARTIAL_SECRET_CHARS`) that begins `needle` without completing it. */
function partialPrefixBefore(text: string, end: number, needle: string): number {
  const head = needle.slice(0, MIN_PARTIAL_SECRET_CHARS);
  const from = Math.max(0, end - needle.length + 1);
  // The first candidate found is the earliest, so the longest.
  for (let at = text.indexOf(head, from); at >= 0 && at + head.length <= end; at = text.indexOf(head, at + 1)) {
    if (needle.startsWith(text.slice(at, end))) return end - at;
  }
  return 0;
}

/** The longest run starting at `start` (at least `MIN_PARTIAL_SECRET_CHARS`) that ends `needle` without being all of it. */
function partialSuffixAfter(text: string, start: number, needle: string): number {
  const tail = needle.slice(-MIN_PARTIAL_SECRET_CHARS);
  const limit = Math.min(text.length, start + needle.length - 1);
  let longest = 0;
  for (let at = text.indexOf(tail, start); at >= 0 && at + tail.length <= limit; at = text.indexOf(tail, at + 1)) {
    const length = at + tail.length - start;
    if (needle.endsWith(text.slice(start, start + length))) longest = length;
  }
  return longest;
}

/** A value as tools print it: itself, trimmed, URL-, form- and JSON-escaped, and inside base64. */
function printedForms(value: string): string[] {
  const forms = new Set<string>();
  for (const form of new Set([value, value.trim()])) {
    if (form.length < MIN_SECRET_CHARS) continue;
    forms.add(form);
    forms.add(JSON.stringify(form).slice(1, -1));
    forms.add(encodeURIComponent(form));
    forms.add(encodeURIComponent(form).replace(/%20/g, "+"));
    for (const core of base64Cores(form)) forms.add(core);
  }
  return [...forms].filter((form) => form.length >= MIN_SECRET_CHARS);
}

/**
 * The base64 characters (standard and URL alphabets) that depend only on the value's bytes, for
 * each of the three alignments the value can have inside a longer encoded string, such as
 * `user:token` in a Basic authorization header. Characters that mix in neighbouring bytes are left
 * out, so the cores match wherever the value sits.
 */
function base64Cores(value: string): string[] {
  const bytes = new TextEncoder().encode(value);
  const cores: string[] = [];
  for (const offset of [0, 1, 2]) {
    const shifted = new Uint8Array(offset + bytes.length);
    shifted.set(bytes, offset);
    const first = Math.ceil((offset * 8) / 6);
    const last = Math.floor(((offset + bytes.length) * 8) / 6);
    const core = toBase64Url(shifted).slice(first, last);
    cores.push(core, core.replace(/-/g, "+").replace(/_/g, "/"));
  }
  return cores;
}
