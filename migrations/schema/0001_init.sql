-- State of dvsync migration and sync jobs. Every table is scoped by job so
-- several jobs can share one state file.

-- Per-step resume position: the cursor after the last batch whose records
-- are durable in the target.
CREATE TABLE checkpoints (
	job        TEXT NOT NULL,
	step       TEXT NOT NULL,
	cursor     TEXT NOT NULL,
	done       INTEGER NOT NULL DEFAULT 0,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (job, step)
) WITHOUT ROWID;

-- Source ID -> target record map. seq orders the target records one source
-- record produced.
CREATE TABLE idmap (
	job       TEXT NOT NULL,
	step      TEXT NOT NULL,
	source_id TEXT NOT NULL,
	seq       INTEGER NOT NULL,
	tbl       TEXT NOT NULL,
	key       TEXT NOT NULL,
	target_id TEXT NOT NULL,
	PRIMARY KEY (job, step, source_id, seq)
) WITHOUT ROWID;

-- Watermarks, delta tokens and other named values of sync jobs.
CREATE TABLE job_values (
	job        TEXT NOT NULL,
	name       TEXT NOT NULL,
	value      TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (job, name)
) WITHOUT ROWID;

-- Source records currently rejected; a later successful write removes the
-- row, so this is the set verify expects to be missing.
CREATE TABLE rejects (
	job       TEXT NOT NULL,
	step      TEXT NOT NULL,
	source_id TEXT NOT NULL,
	run_id    TEXT NOT NULL,
	reason    TEXT NOT NULL,
	error     TEXT NOT NULL,
	PRIMARY KEY (job, step, source_id)
) WITHOUT ROWID;

-- Run journal.
CREATE TABLE runs (
	run_id     TEXT PRIMARY KEY,
	job        TEXT NOT NULL,
	started_at TEXT NOT NULL,
	ended_at   TEXT,
	status     TEXT NOT NULL,
	error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_job ON runs (job, started_at);

CREATE TABLE run_steps (
	run_id    TEXT NOT NULL,
	step      TEXT NOT NULL,
	pos       INTEGER NOT NULL DEFAULT 0, -- the step's place in the run's order
	status    TEXT NOT NULL,
	read      INTEGER NOT NULL DEFAULT 0,
	created   INTEGER NOT NULL DEFAULT 0,
	updated   INTEGER NOT NULL DEFAULT 0,
	written   INTEGER NOT NULL DEFAULT 0,
	unchanged INTEGER NOT NULL DEFAULT 0,
	skipped   INTEGER NOT NULL DEFAULT 0,
	rejected  INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (run_id, step)
) WITHOUT ROWID;
