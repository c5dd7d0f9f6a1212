package helpdesk

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/dvsync/dvsync/odoo"
)

func TestJSONLSinkKeyOrderPerRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.jsonl")
	s, err := newJSONLSink(path)
	if err != nil {
		t.Fatal(err)
	}
	recs := []odoo.Record{
		{"id": json.RawMessage(`1`), "b": json.RawMessage(`"x"`), "write_date": json.RawMessage(`"2026-01-01 00:00:00"`)},
		{"id": json.RawMessage(`2`), "c": json.RawMessage(`false`), "write_date": json.RawMessage(`"2026-01-03 00:00:00"`)},
		{"id": json.RawMessage(`3`), "b": json.RawMessage(`[1,"a\"b"]`), "write_date": json.RawMessage(`"2026-01-03 00:00:00"`)},
	}
	for _, r := range recs {
		if err := s.write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.commit(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := `{"b":"x","id":1,"write_date":"2026-01-01 00:00:00"}
{"c":false,"id":2,"write_date":"2026-01-03 00:00:00"}
{"b":[1,"a\"b"],"id":3,"write_date":"2026-01-03 00:00:00"}
`
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if s.wmDate != "2026-01-03 00:00:00" || s.wmID != 3 {
		t.Fatalf("watermark %s %d", s.wmDate, s.wmID)
	}
	if _, err := os.Stat(path + ".partial"); !os.IsNotExist(err) {
		t.Fatal("partial file left")
	}
}
