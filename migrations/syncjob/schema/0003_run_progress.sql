-- Distributed runs (dvsync sync --distribute): a table synced by workers
-- records each page's figures and rejected records with the page's
-- checkpoint, in one transaction, so the coordinator's summary and
-- rejects file hold each page exactly once however often a worker died
-- before a page's checkpoint (the page was then not recorded, and is done
-- again from the checkpoint before it).

-- A run's figures by table, added to page by page.
CREATE TABLE dvsync_sync_run_tables (
	run_id        TEXT NOT NULL,
	tbl           TEXT NOT NULL,
	records_read  BIGINT NOT NULL DEFAULT 0,
	upserted      BIGINT NOT NULL DEFAULT 0,
	deleted       BIGINT NOT NULL DEFAULT 0,
	unchanged     BIGINT NOT NULL DEFAULT 0,
	rejected      BIGINT NOT NULL DEFAULT 0,
	keys_compared BIGINT NOT NULL DEFAULT 0,
	requests      BIGINT NOT NULL DEFAULT 0,
	throttled     BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (run_id, tbl)
);

-- A run's rejected records, one row per line of the rejects file: page is
-- the version the table's checkpoint took when the page was saved (the
-- compare-and-swap moves it once per page, so no two pages share it), seq
-- the reject's place in the page.
CREATE TABLE dvsync_sync_rejects (
	job         TEXT NOT NULL,
	run_id      TEXT NOT NULL,
	tbl         TEXT NOT NULL,
	page        BIGINT NOT NULL,
	seq         INTEGER NOT NULL,
	source_id   TEXT NOT NULL,
	error       TEXT NOT NULL,
	rejected_at TEXT NOT NULL,
	PRIMARY KEY (job, run_id, tbl, page, seq)
);
