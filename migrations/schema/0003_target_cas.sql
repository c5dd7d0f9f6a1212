-- Compare-and-swap of checkpoints and values: a writer may only advance
-- the version it last saw (see Store). Existing rows start at version 1.
ALTER TABLE checkpoints ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE job_values ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

-- A few target records (JSON [{table,key,id}]) of the last batch that moved
-- the checkpoint, so a resume can confirm the target still holds them.
ALTER TABLE checkpoints ADD COLUMN written TEXT NOT NULL DEFAULT '';

-- The target each job's state belongs to (a Dataverse organisation and the
-- URL it was reached at).
CREATE TABLE job_targets (
	job         TEXT PRIMARY KEY,
	target_id   TEXT NOT NULL,
	url         TEXT NOT NULL,
	recorded_at TEXT NOT NULL,
	updated_at  TEXT NOT NULL
) WITHOUT ROWID;
