-- Source records currently skipped, with the mapping's reason, as in the
-- SQLite store (migrations/schema/0004_skips.sql): the workers of a
-- distributed run commit them with their batches, so the coordinator can
-- group and list a step's skips. A later write or reject of the record
-- removes the row; a later skip replaces it.
CREATE TABLE skips (
	job       TEXT NOT NULL,
	step      TEXT NOT NULL,
	source_id TEXT NOT NULL,
	run_id    TEXT NOT NULL,
	reason    TEXT NOT NULL,
	PRIMARY KEY (job, step, source_id)
);
