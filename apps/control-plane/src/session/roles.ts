import { LookoutError, type ParticipantRole } from "@lookout/protocol";

/**
 * Who may do what in a session, in one table. Commands check it against the participant's stored
 * role, so the REST API and the socket enforce the same rules. A signed-in person who has not
 * joined yet acts as a member (and joins as one), which is how a teammate picks up a session.
 */
const SESSION_ACTIONS = {
  "prompt.send": ["owner", "member"],
  "prompt.cancel": ["owner", "member"],
  "session.stop": ["owner", "member"],
  "session.rename": ["owner", "member"],
  "session.archive": ["owner", "member"],
  "push.decide": ["owner", "member"],
  "sandbox.warm": ["owner", "member"],
  "pull-request.write": ["owner", "member"],
  "participant.role": ["owner"],
} as const satisfies Record<string, readonly ParticipantRole[]>;

export type SessionAction = keyof typeof SESSION_ACTIONS;

const REFUSALS: Record<SessionAction, string> = {
  "prompt.send": "Viewers cannot send prompts.",
  "prompt.cancel": "Viewers cannot cancel prompts.",
  "session.stop": "Viewers cannot stop the agent.",
  "session.rename": "Viewers cannot rename the session.",
  "session.archive": "Viewers cannot archive or restore the session.",
  "push.decide": "Viewers cannot approve pushes.",
  "sandbox.warm": "Viewers cannot start the sandbox.",
  "pull-request.write": "Viewers cannot open or merge pull requests.",
  "participant.role": "Only the session's owner can change who may steer it.",
};

/** The role a person acts with: their stored one, or `member` for someone who has not joined. */
export function actingRole(stored: ParticipantRole | null): ParticipantRole {
  return stored ?? "member";
}

export function allows(role: ParticipantRole, action: SessionAction): boolean {
  return (SESSION_ACTIONS[action] as readonly ParticipantRole[]).includes(role);
}

/** Throws `FORBIDDEN` with an actionable message when `role` may not do `action`. */
export function authorize(role: ParticipantRole, action: SessionAction): void {
  if (!allows(role, action)) throw new LookoutError("FORBIDDEN", REFUSALS[action]);
}
