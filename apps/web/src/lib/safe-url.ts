/**
 * Returns the URL when it is safe to put in `href`/`src` (http, https, or a path on this origin),
 * otherwise null. Artifact URLs come from the sandbox, which runs untrusted code.
 */
export function safeUrl(url: string | undefined): string | null {
  if (!url) return null;
  if (url.startsWith("/") && !url.startsWith("//")) return url;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.toString() : null;
  } catch {
    return null;
  }
}
