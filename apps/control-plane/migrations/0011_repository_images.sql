-- Repository images (ADR 0015): each build of a repository's image — a snapshot of a sandbox that
-- cloned the base branch's head and ran the repository's setup script. New sessions start from the
-- newest ready one; the history (failures with the setup script's output) is what admins see.
CREATE TABLE repository_images (
  id             TEXT PRIMARY KEY,
  repository_id  TEXT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  base_branch    TEXT NOT NULL,
  -- The base branch's commit the image holds; known once the build sandbox has cloned.
  base_sha       TEXT,
  -- The provider's snapshot id once ready; cleared when a newer image supersedes it.
  snapshot_id    TEXT,
  status         TEXT NOT NULL CHECK (status IN ('building', 'ready', 'failed', 'superseded')),
  -- 'schedule' (every 30 minutes for active repositories) or 'admin' (build now).
  trigger        TEXT NOT NULL CHECK (trigger IN ('schedule', 'admin')),
  requested_by   TEXT,
  started_at     INTEGER NOT NULL,
  finished_at    INTEGER,
  duration_ms    INTEGER,
  error          TEXT,
  output_tail    TEXT
);
CREATE INDEX repository_images_by_repository ON repository_images(repository_id, started_at DESC);
CREATE INDEX repository_images_building ON repository_images(status) WHERE status = 'building';
