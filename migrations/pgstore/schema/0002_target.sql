-- A few target records (JSON [{table,key,id}]) of the last batch that moved
-- the checkpoint, so a resume can confirm the target still holds them.
ALTER TABLE checkpoints ADD COLUMN written TEXT NOT NULL DEFAULT '';

-- The target each job's state belongs to (a Dataverse organisation and the
-- URL it was reached at).
CREATE TABLE job_targets (
	job         TEXT PRIMARY KEY,
	target_id   TEXT NOT NULL,
	url         TEXT NOT NULL,
	recorded_at TIMESTAMPTZ NOT NULL,
	updated_at  TIMESTAMPTZ NOT NULL
);
