-- Progress reports: while a prompt runs, its current step (cloning, running `pnpm test`) is one row
-- per session and prompt, rewritten in place by each newer step. `revision` counts the rewrites, so
-- the delivery of an older step cannot mark a newer one delivered; `delivered_json` keeps the step
-- the origin last received (Linear lists only the tool steps it has not posted yet). A progress row
-- the prompt's final report overtook is closed as delivered with no `delivered_at`: nothing is sent.
ALTER TABLE outbox_reports ADD COLUMN is_progress INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox_reports ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox_reports ADD COLUMN delivered_json TEXT;

-- Due reports are read final reports first, so a burst of progress never delays one.
CREATE INDEX outbox_reports_due_first ON outbox_reports(is_progress, next_attempt_at) WHERE status = 'pending';
