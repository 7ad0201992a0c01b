import { z } from "zod";

/**
 * What `startWorker` and the process it starts (`worker-process.ts`) say to each other: the options
 * go down as one JSON line on the child's stdin (so secrets never appear in its argv, environment or
 * a file), and the child announces that the Worker serves with one marked line on its stdout.
 */

/** A binding the Worker gets on top of its config: a `[vars]` value or a secret. */
const Binding = z.object({ type: z.enum(["plain_text", "secret_text"]), value: z.string() });

export const ChildOptions = z.object({
  config: z.string().min(1),
  persistTo: z.string().min(1),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65_535),
  bindings: z.record(z.string(), Binding),
  watch: z.boolean(),
});
export type ChildOptions = z.infer<typeof ChildOptions>;

/** Starts the line the child prints once the Worker serves (followed by the URL wrangler reports). */
export const READY_MARKER = "lookout-dev-stack: ready on ";
