package migrations

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// DamagedStateError reports a state file that SQLite finds damaged. Its
// checkpoints and ID map cannot be trusted, so no run starts from it.
type DamagedStateError struct {
	Path string
	// Problems are SQLite's own findings (PRAGMA integrity_check), or the
	// error that reading the file met.
	Problems []string
}

func (e *DamagedStateError) Error() string {
	first := ""
	if len(e.Problems) > 0 {
		first = "; first: " + e.Problems[0]
	}
	return fmt.Sprintf("migrations: state file %s is damaged (%d problem(s) found by SQLite's integrity check%s). "+
		"Restore it from a backup, or start over with a new state file (--fresh, or another --state): records already in the target are found by their keys and updated, not duplicated",
		e.Path, len(e.Problems), first)
}

// maxIntegrityProblems bounds what integrity_check lists.
const maxIntegrityProblems = 20

// checkAfterUncleanStop runs SQLite's integrity check when a run recorded
// in the file never ended (the process was killed, the machine lost
// power): the moment a file is most likely damaged, and the check's cost
// (it reads every page) is paid only then. PRAGMA integrity_check:
// sqlite.org/pragma.html#pragma_integrity_check.
func (s *SQLiteStore) checkAfterUncleanStop(ctx context.Context) error {
	var open int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM runs WHERE status = ?`, StatusRunning).Scan(&open)
	if err != nil {
		if corrupt(err) {
			return &DamagedStateError{Path: s.path, Problems: []string{err.Error()}}
		}
		return fmt.Errorf("migrations: state file %s: %w", s.path, err)
	}
	if open == 0 {
		return nil
	}
	return s.CheckIntegrity(ctx)
}

// CheckIntegrity runs SQLite's integrity check over the whole file and
// returns a *DamagedStateError when it finds anything.
func (s *SQLiteStore) CheckIntegrity(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, fmt.Sprintf(`PRAGMA integrity_check(%d)`, maxIntegrityProblems))
	if err != nil {
		if corrupt(err) {
			return &DamagedStateError{Path: s.path, Problems: []string{err.Error()}}
		}
		return fmt.Errorf("migrations: checking state file %s: %w", s.path, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return err
		}
		// One row per problem, or (as this driver returns it) one row
		// of lines; the "*** in database main ***" header is no problem.
		for _, l := range strings.Split(line, "\n") {
			if l = strings.TrimSpace(l); l != "" && l != "ok" && !strings.HasPrefix(l, "***") {
				problems = append(problems, l)
			}
		}
	}
	if err := rows.Err(); err != nil {
		if corrupt(err) {
			return &DamagedStateError{Path: s.path, Problems: append(problems, err.Error())}
		}
		return err
	}
	if len(problems) > 0 {
		return &DamagedStateError{Path: s.path, Problems: problems}
	}
	return nil
}

// corrupt reports SQLite's SQLITE_CORRUPT and SQLITE_NOTADB answers
// ("database disk image is malformed", "file is not a database").
func corrupt(err error) bool {
	var d *DamagedStateError
	if errors.As(err, &d) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "malformed") || strings.Contains(msg, "not a database") || strings.Contains(msg, "SQLITE_CORRUPT")
}
