package migrations

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fillState writes a state file with enough ID-map rows to span many
// pages, and leaves a run open as a killed process does.
func fillState(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	run, err := s.BeginRun(ctx, "job", []string{"step"})
	if err != nil {
		t.Fatal(err)
	}
	for b := range 20 {
		c := Commit{Job: "job", Step: "step", RunID: run, Cursor: fmt.Sprint(b)}
		for i := range 200 {
			id := fmt.Sprintf("%d-%d", b, i)
			c.IDs = append(c.IDs, IDEntry{SourceID: id, Ref: Ref{Table: "account", Key: "accountnumber=" + id, ID: strings.Repeat("x", 36)}})
		}
		if err := s.Commit(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	// No EndRun: the process "died". Close releases the lock, as the
	// kernel does for a killed process, and checkpoints the WAL.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestDamagedStateFileAfterUncleanStop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	fillState(t, path)

	// Undamaged: it opens, although its last run never ended.
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatalf("healthy file after an unclean stop: %v", err)
	}
	s.Close()

	// Flip bytes in the middle of the file (pages of the ID map), as a
	// torn write or a bad disk does.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 16*4096 {
		t.Fatalf("state file of %d bytes is too small to damage its middle", len(b))
	}
	for off := 8 * 4096; off < len(b)-4096; off += 4 * 4096 {
		for i := 100; i < 400; i++ {
			b[off+i] ^= 0x5a
		}
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = OpenSQLite(context.Background(), path)
	var d *DamagedStateError
	if !errors.As(err, &d) || len(d.Problems) == 0 {
		t.Fatalf("damaged file opened: %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "Restore it from a backup") || !strings.Contains(msg, "--fresh") || strings.Contains(msg, "\n") {
		t.Errorf("message %q: want one line saying to restore or start over", msg)
	}
}
