-- Compare-and-swap of checkpoints: a writer advances a table's delta
-- token or watermark only from the version it last saw.
ALTER TABLE dvsync_sync_state ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

-- The source and target environments a job's state belongs to (role
-- "source" or "target": a Dataverse organisation and its URL).
CREATE TABLE dvsync_sync_ends (
	job         TEXT NOT NULL,
	role        TEXT NOT NULL,
	target_id   TEXT NOT NULL,
	url         TEXT NOT NULL,
	recorded_at TEXT NOT NULL,
	updated_at  TEXT NOT NULL,
	PRIMARY KEY (job, role)
);
