import type { PresenceEntry } from "@lookout/protocol";
import { Avatar } from "../avatar";

/** Most avatars shown before the rest collapse into "+N". */
const MAX_AVATARS = 5;

export function PresenceBar({ entries }: { entries: PresenceEntry[] }) {
  if (entries.length === 0) return null;
  const sorted = [...entries].sort((a, b) => Number(b.status === "active") - Number(a.status === "active"));
  const shown = sorted.slice(0, MAX_AVATARS);
  const rest = sorted.length - shown.length;
  return (
    <div className="avatar-stack" aria-label={`${entries.length} watching`} role="group">
      {shown.map((entry) => (
        <Avatar
          key={entry.participant.userId}
          author={entry.participant}
          size="sm"
          status={entry.status}
          title={`${entry.participant.name} — ${entry.typing ? "typing" : entry.status}`}
        />
      ))}
      {rest > 0 && <span className="badge">+{rest}</span>}
    </div>
  );
}

export function TypingIndicator({ names }: { names: string[] }) {
  if (names.length === 0) return <div className="typing" aria-hidden />;
  const text =
    names.length === 1
      ? `${names[0]} is typing`
      : names.length === 2
        ? `${names[0]} and ${names[1]} are typing`
        : `${names.length} people are typing`;
  return (
    <div className="typing" role="status">
      <span className="typing__dots" aria-hidden>
        <span />
        <span />
        <span />
      </span>
      {text}
    </div>
  );
}
