import type { Author } from "@lookout/protocol";
import { useState } from "react";
import { colorFor, initials } from "../lib/format";

type Size = "sm" | "md" | "lg";

export interface AvatarProps {
  author: Pick<Author, "userId" | "name" | "avatarUrl">;
  size?: Size;
  /** Shows a presence dot. */
  status?: "active" | "idle" | undefined;
  title?: string;
}

/** A person's picture, or their initials on a color derived from their id. */
export function Avatar({ author, size = "md", status, title }: AvatarProps) {
  const [broken, setBroken] = useState(false);
  const label = title ?? author.name;
  const showImage = author.avatarUrl && !broken && /^https?:\/\//i.test(author.avatarUrl);
  return (
    <span
      className={`avatar${size === "md" ? "" : ` avatar--${size}`}`}
      style={showImage ? undefined : { background: colorFor(author.userId) }}
      title={label}
      role="img"
      aria-label={label}
    >
      {showImage ? (
        <img src={author.avatarUrl} alt="" referrerPolicy="no-referrer" onError={() => setBroken(true)} />
      ) : (
        initials(author.name)
      )}
      {status && <span className={`avatar__status${status === "active" ? " avatar__status--active" : ""}`} />}
    </span>
  );
}
