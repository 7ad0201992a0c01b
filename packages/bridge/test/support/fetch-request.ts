/** The parts of a `fetch` call that tests of an injected fetcher record. */

export function requestUrl(input: string | URL | Request): string {
  return typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
}

export function bodyText(init: RequestInit | undefined): string {
  return typeof init?.body === "string" ? init.body : "";
}
