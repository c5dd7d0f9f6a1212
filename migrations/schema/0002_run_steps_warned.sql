-- Per-step count of mapping warnings (Counts.Warned). Existing rows of
-- earlier runs get 0: those runs did not record warnings.
ALTER TABLE run_steps ADD COLUMN warned INTEGER NOT NULL DEFAULT 0;
