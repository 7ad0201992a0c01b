-- Superseded repository images' snapshots are deleted from the sandbox provider (ADR 0015). When an
-- image is superseded its snapshot id moves from snapshot_id (what sessions start from) to
-- retired_snapshot_id, and stays there until the gateway has deleted the snapshot: a deletion that
-- fails is retried on the scheduler's next pass, and nothing is lost.
ALTER TABLE repository_images ADD COLUMN retired_snapshot_id TEXT;
-- When the image was superseded: its snapshot is deleted only a while later, so a sandbox that read
-- it as the newest just before has started.
ALTER TABLE repository_images ADD COLUMN retired_at INTEGER;
-- When the provider's copy was deleted (the history shows it).
ALTER TABLE repository_images ADD COLUMN snapshot_deleted_at INTEGER;
CREATE INDEX repository_images_retired ON repository_images(retired_at) WHERE retired_snapshot_id IS NOT NULL;
