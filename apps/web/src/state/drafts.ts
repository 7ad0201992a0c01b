import { useCallback, useEffect, useRef, useState } from "react";
import type { z } from "zod";

/**
 * What someone is typing, kept in localStorage as they type, so that a reload, a lost login or a
 * crash never loses it. Cleared once the text has been sent.
 */
export function useDraft<T>(key: string, schema: z.ZodType<T>, initial: T): [T, (next: T | ((current: T) => T)) => void, () => void] {
  const storageKey = `lookout:draft:${key}`;
  const initialRef = useRef(initial);
  const schemaRef = useRef(schema);
  const [value, setValue] = useState<T>(() => readDraft(storageKey, schema, initial));
  const keyRef = useRef(storageKey);

  // A new key (another session) loads that key's draft.
  useEffect(() => {
    if (keyRef.current === storageKey) return;
    keyRef.current = storageKey;
    setValue(readDraft(storageKey, schemaRef.current, initialRef.current));
  }, [storageKey]);

  const update = useCallback(
    (next: T | ((current: T) => T)) => {
      setValue((current) => {
        const resolved = typeof next === "function" ? (next as (current: T) => T)(current) : next;
        writeDraft(storageKey, resolved);
        return resolved;
      });
    },
    [storageKey],
  );

  const clear = useCallback(() => {
    removeDraft(storageKey);
    setValue(initialRef.current);
  }, [storageKey]);

  return [value, update, clear];
}

function readDraft<T>(storageKey: string, schema: z.ZodType<T>, fallback: T): T {
  try {
    const raw = localStorage.getItem(storageKey);
    if (raw === null) return fallback;
    // A draft written by an older version of the page may not fit any more: start afresh.
    const parsed = schema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : fallback;
  } catch {
    return fallback;
  }
}

function writeDraft(storageKey: string, value: unknown): void {
  try {
    localStorage.setItem(storageKey, JSON.stringify(value));
  } catch {
    // Storage full or disabled: the draft lives only in memory.
  }
}

function removeDraft(storageKey: string): void {
  try {
    localStorage.removeItem(storageKey);
  } catch {
    // Nothing to do without storage.
  }
}
