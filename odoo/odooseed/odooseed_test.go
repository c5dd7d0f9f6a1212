package odooseed

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const baseDir = "../../testdata/odoo/seed"

func TestGenerateIsDeterministicAndNeverInTheFuture(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		if _, err := Generate(Options{BaseDir: baseDir, OutDir: dir, Tickets: 400, Seed: 9, Now: now, Span: 3 * 24 * time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range Generated {
		x, _ := os.ReadFile(filepath.Join(a, name))
		y, _ := os.ReadFile(filepath.Join(b, name))
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Fatalf("%s differs between runs (or is empty)", name)
		}
	}
	// A short span pushes many events past Now; none may be written.
	limit := now.Format(odooDatetime)
	for _, name := range []string{"helpdesk.ticket.jsonl", "mail.message.jsonl"} {
		f, err := os.Open(filepath.Join(a, name))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var r map[string]any
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"create_date", "write_date", "date", "close_date", "assign_date"} {
				if v, ok := r[k].(string); ok && v > limit {
					t.Fatalf("%s %v: %s = %s is after %s", name, r["id"], k, v, limit)
				}
			}
		}
		f.Close()
	}
	if _, err := os.Stat(filepath.Join(a, "helpdesk.team.jsonl")); err != nil {
		t.Fatal("base files not copied")
	}
}
