-- State of dvsync sync jobs. The same statements serve SQLite and
-- PostgreSQL. IF NOT EXISTS: stores written before the schema was
-- versioned already hold these tables.

-- Per-table checkpoint (JSON of syncjob.Checkpoint).
CREATE TABLE IF NOT EXISTS dvsync_sync_state (
	job        TEXT NOT NULL,
	tbl        TEXT NOT NULL,
	state      TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (job, tbl)
);

-- Run journal, with each run's summary (JSON).
CREATE TABLE IF NOT EXISTS dvsync_sync_runs (
	run_id     TEXT PRIMARY KEY,
	job        TEXT NOT NULL,
	started_at TEXT NOT NULL,
	ended_at   TEXT,
	status     TEXT NOT NULL,
	exit_code  INTEGER NOT NULL DEFAULT 0,
	error      TEXT,
	summary    TEXT
);
CREATE INDEX IF NOT EXISTS dvsync_sync_runs_job ON dvsync_sync_runs (job, started_at);

-- Target key of every source record written to a Dataverse target, with
-- the generation of the full read that last saw it.
CREATE TABLE IF NOT EXISTS dvsync_sync_keys (
	job        TEXT NOT NULL,
	tbl        TEXT NOT NULL,
	source_id  TEXT NOT NULL,
	target_key TEXT NOT NULL,
	gen        BIGINT NOT NULL,
	PRIMARY KEY (job, tbl, source_id)
);
