/** Who may sign in with GitHub, and as what; the lists come from the environment. */
export interface GithubAdmissionPolicy {
  users: readonly string[];
  orgs: readonly string[];
  admins: readonly string[];
}

export type Admission = { admitted: false; reason: string } | { admitted: true; role: "admin" | "member" };

export function policyFrom(env: {
  ALLOWED_GITHUB_USERS?: string;
  ALLOWED_GITHUB_ORGS?: string;
  ADMIN_GITHUB_USERS?: string;
}): GithubAdmissionPolicy {
  const list = (value: string | undefined) =>
    (value ?? "")
      .split(",")
      .map((entry) => entry.trim().toLowerCase())
      .filter((entry) => entry.length > 0);
  return { users: list(env.ALLOWED_GITHUB_USERS), orgs: list(env.ALLOWED_GITHUB_ORGS), admins: list(env.ADMIN_GITHUB_USERS) };
}

/**
 * Decides a GitHub sign-in. Admins are admitted as admins; listed users and members of listed
 * organisations as members. With no list configured nobody is admitted: fail closed.
 */
export function admit(identity: { login: string; orgs: readonly string[] }, policy: GithubAdmissionPolicy): Admission {
  const login = identity.login.toLowerCase();
  if (policy.admins.includes(login)) return { admitted: true, role: "admin" };
  if (policy.users.includes(login)) return { admitted: true, role: "member" };
  if (identity.orgs.some((org) => policy.orgs.includes(org.toLowerCase()))) return { admitted: true, role: "member" };
  return {
    admitted: false,
    reason:
      policy.users.length + policy.orgs.length + policy.admins.length === 0
        ? "GitHub sign-in admits nobody until ALLOWED_GITHUB_USERS or ALLOWED_GITHUB_ORGS is set."
        : `@${identity.login} is not on this deployment's allow-list.`,
  };
}
