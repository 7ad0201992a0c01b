import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { FakeGitRepository } from "@lookout/e2e/fake-github-git";

/** A GitHub-like repository over git smart HTTP on loopback, readable with one installation token. */
export interface GitHubRemote {
  readonly repository: FakeGitRepository;
  /** The clone URL (`http://127.0.0.1:<port>/acme/app.git`). */
  readonly url: string;
  /** The one token it accepts (basic auth `x-access-token:<token>`, read only). */
  readonly token: string;
  /** The head of `main` on the remote. */
  main(): string;
  /** Pushes a new commit onto `main` and returns it. */
  moveMain(): string;
  /** Git requests that carried the token and were served. */
  served(): number;
  close(): Promise<void>;
}

/** Starts the remote; `onRequest` runs while each git request is being answered. */
export async function startGitHubRemote(options: { onRequest?: () => void } = {}): Promise<GitHubRemote> {
  const token = "ghs_pool_read_only_installation_token";
  const repository = new FakeGitRepository("acme/app", { "README.md": "# app\n" });
  const server = createServer((request, response) => {
    void repository
      .serve(request, response, (offered) => {
        options.onRequest?.();
        return offered === token ? "read" : undefined;
      })
      .then((served) => {
        if (!served) response.writeHead(404).end();
      });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  let moves = 0;
  return {
    repository,
    url: `http://127.0.0.1:${port}/acme/app.git`,
    token,
    main: () => repository.sha("refs/heads/main") ?? "",
    moveMain: () => repository.addHead("main", "refs/heads/main", { "CHANGELOG.md": `move ${++moves}\n` }, `base moves (${moves})`),
    served: () => repository.requests.filter((request) => request.status === 200).length,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      repository.close();
    },
  };
}
