export interface DotenvResult {
  entries: Array<{ name: string; value: string }>;
  /** 1-based line numbers that are not `NAME=value`. */
  invalidLines: number[];
}

const LINE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/;

/**
 * Reads pasted `.env` text: `NAME=value` lines, optional `export`, single or double quotes,
 * `#` comments. A later line wins over an earlier one with the same name.
 */
export function parseDotenv(text: string): DotenvResult {
  const values = new Map<string, string>();
  const invalidLines: number[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (!line.trim() || line.trim().startsWith("#")) return;
    const match = LINE.exec(line);
    if (!match) {
      invalidLines.push(index + 1);
      return;
    }
    const [, name = "", raw = ""] = match;
    values.set(name, unquote(raw));
  });
  return { entries: [...values].map(([name, value]) => ({ name, value })), invalidLines };
}

function unquote(raw: string): string {
  const quote = raw[0];
  if ((quote === '"' || quote === "'") && raw.endsWith(quote) && raw.length >= 2) {
    const inner = raw.slice(1, -1);
    return quote === '"' ? inner.replace(/\\n/g, "\n").replace(/\\"/g, '"') : inner;
  }
  // An unquoted value ends at an inline comment.
  return raw.replace(/\s+#.*$/, "");
}
