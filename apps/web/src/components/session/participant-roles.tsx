import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { errorMessage } from "../../api/api-error";
import { useApi } from "../../api/context";
import { Avatar } from "../avatar";
import { ErrorCallout, Spinner } from "../states";
import { useToast } from "../toasts";

export const participantsKey = (sessionId: string) => ["participants", sessionId] as const;

/**
 * For the session's owner: everyone who has joined, each a member (steers) or a viewer (watches).
 * `version` changes when someone joins or a role changes, and refetches the list.
 */
export function ParticipantRoles({ sessionId, version }: { sessionId: string; version: number }) {
  const api = useApi();
  const notify = useToast();
  const queryClient = useQueryClient();
  const [saving, setSaving] = useState<string | null>(null);
  const participants = useQuery({
    queryKey: [...participantsKey(sessionId), version] as const,
    queryFn: ({ signal }) => api.participants(sessionId, signal),
  });

  const setRole = async (userId: string, role: "member" | "viewer") => {
    setSaving(userId);
    try {
      const updated = await api.setParticipantRole(sessionId, userId, role);
      queryClient.setQueryData([...participantsKey(sessionId), version], updated);
    } catch (error) {
      notify(errorMessage(error), "error");
    } finally {
      setSaving(null);
    }
  };

  const others = (participants.data ?? []).filter((entry) => entry.role !== "owner");
  return (
    <section className="details__section" aria-label="Roles">
      <h3 className="details__heading">Roles</h3>
      {participants.isLoading ? (
        <Spinner label="Loading participants" />
      ) : participants.isError ? (
        <ErrorCallout error={participants.error} onRetry={() => void participants.refetch()} />
      ) : others.length === 0 ? (
        <p className="faint">Nobody else has joined yet. People who open the session join as members.</p>
      ) : (
        <ul className="list details__people">
          {others.map((entry) => (
            <li key={entry.participant.userId} className="row">
              <Avatar author={entry.participant} size="sm" />
              <span className="grow truncate">{entry.participant.name}</span>
              <label className="visually-hidden" htmlFor={`role-${entry.participant.userId}`}>
                Role of {entry.participant.name}
              </label>
              <select
                id={`role-${entry.participant.userId}`}
                className="select select--sm"
                style={{ width: "auto" }}
                value={entry.role}
                disabled={saving === entry.participant.userId}
                onChange={(event) => void setRole(entry.participant.userId, event.target.value === "viewer" ? "viewer" : "member")}
              >
                <option value="member">Member (steers)</option>
                <option value="viewer">Viewer (watches)</option>
              </select>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
