/**
 * Branch-name validation, stricter than `git check-ref-format --branch`: names reach git only as
 * argv entries, never through a shell, and this check also keeps them from being read as options.
 */
const MAX_BRANCH_LENGTH = 200;

export type BranchCheck = { ok: true } | { ok: false; reason: string };

export function checkBranchName(name: string): BranchCheck {
  if (name.length === 0) return { ok: false, reason: "is empty" };
  if (name.length > MAX_BRANCH_LENGTH) return { ok: false, reason: `is longer than ${MAX_BRANCH_LENGTH} characters` };
  if (name.startsWith("-")) return { ok: false, reason: "starts with '-'" };
  if (!/^[A-Za-z0-9._/-]+$/.test(name)) return { ok: false, reason: "may contain only letters, digits, '.', '_', '-' and '/'" };
  if (name === "HEAD" || name === "@") return { ok: false, reason: `'${name}' is reserved` };
  if (name.startsWith("/") || name.endsWith("/") || name.includes("//")) return { ok: false, reason: "has an empty path component" };
  if (name.endsWith(".") || name.includes("..")) return { ok: false, reason: "contains '..' or ends with '.'" };
  for (const component of name.split("/")) {
    if (component.startsWith(".")) return { ok: false, reason: "has a component starting with '.'" };
    if (component.endsWith(".lock")) return { ok: false, reason: "has a component ending with '.lock'" };
  }
  return { ok: true };
}

export function isValidBranchName(name: string): boolean {
  return checkBranchName(name).ok;
}
