import type { Author } from "@lookout/protocol";

/** A signed-in person. */
export interface User {
  id: string;
  name: string;
  email: string | null;
  avatarUrl: string | null;
  role: "admin" | "member";
  githubId: number | null;
  githubLogin: string | null;
  createdAt: number;
  updatedAt: number;
}

/** Who is calling: a user with a browser session, or a service with a signed request. */
export type Principal =
  | {
      kind: "user";
      user: User;
      /** The browser sign-in the request came with (`auth_sessions.token_hash`); signing out ends what it opened. */
      authSessionId: string;
    }
  | { kind: "service"; service: string; /** The user the service acts for, if any. */ actor: Author | null };

export type UserPrincipal = Extract<Principal, { kind: "user" }>;

export function authorOf(user: User): Author {
  return {
    userId: user.id,
    name: user.name,
    ...(user.email ? { email: user.email } : {}),
    ...(user.avatarUrl ? { avatarUrl: user.avatarUrl } : {}),
    ...(user.githubId !== null && user.githubLogin ? { github: { id: user.githubId, login: user.githubLogin } } : {}),
  };
}
