-- State of dvsync jobs on PostgreSQL: the same tables as the SQLite store
-- (migrations/schema), so every job keeps the same guarantees when several
-- workers share it. version columns make checkpoint and value updates
-- compare-and-swap: a writer may only advance what it last saw.

CREATE TABLE checkpoints (
	job        TEXT NOT NULL,
	step       TEXT NOT NULL,
	cursor     TEXT NOT NULL,
	done       BOOLEAN NOT NULL DEFAULT false,
	version    BIGINT NOT NULL DEFAULT 1,
	updated_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (job, step)
);

CREATE TABLE idmap (
	job       TEXT NOT NULL,
	step      TEXT NOT NULL,
	source_id TEXT NOT NULL,
	seq       INTEGER NOT NULL,
	tbl       TEXT NOT NULL,
	key       TEXT NOT NULL,
	target_id TEXT NOT NULL,
	PRIMARY KEY (job, step, source_id, seq)
);

CREATE TABLE job_values (
	job        TEXT NOT NULL,
	name       TEXT NOT NULL,
	value      TEXT NOT NULL,
	version    BIGINT NOT NULL DEFAULT 1,
	updated_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (job, name)
);

CREATE TABLE rejects (
	job       TEXT NOT NULL,
	step      TEXT NOT NULL,
	source_id TEXT NOT NULL,
	run_id    TEXT NOT NULL,
	reason    TEXT NOT NULL,
	error     TEXT NOT NULL,
	PRIMARY KEY (job, step, source_id)
);

CREATE TABLE runs (
	run_id     TEXT PRIMARY KEY,
	job        TEXT NOT NULL,
	started_at TIMESTAMPTZ NOT NULL,
	ended_at   TIMESTAMPTZ,
	status     TEXT NOT NULL,
	error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_job ON runs (job, started_at);

CREATE TABLE run_steps (
	run_id    TEXT NOT NULL,
	step      TEXT NOT NULL,
	pos       INTEGER NOT NULL DEFAULT 0,
	status    TEXT NOT NULL,
	read      BIGINT NOT NULL DEFAULT 0,
	created   BIGINT NOT NULL DEFAULT 0,
	updated   BIGINT NOT NULL DEFAULT 0,
	written   BIGINT NOT NULL DEFAULT 0,
	unchanged BIGINT NOT NULL DEFAULT 0,
	skipped   BIGINT NOT NULL DEFAULT 0,
	rejected  BIGINT NOT NULL DEFAULT 0,
	warned    BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (run_id, step)
);
