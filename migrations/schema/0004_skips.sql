-- Source records currently skipped, with the mapping's reason: the skips
-- of a step whose batches several processes commit can be grouped and
-- listed from here. A later write or reject of the record removes the row;
-- a later skip replaces it.
CREATE TABLE skips (
	job       TEXT NOT NULL,
	step      TEXT NOT NULL,
	source_id TEXT NOT NULL,
	run_id    TEXT NOT NULL,
	reason    TEXT NOT NULL,
	PRIMARY KEY (job, step, source_id)
) WITHOUT ROWID;
