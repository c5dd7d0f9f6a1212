package odooexport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/odoo/odooseed"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

const key = "export-test-key"

func server(t testing.TB, version int, flavour, seed string) string {
	t.Helper()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	srv, err := odooserver.New(odooserver.Options{Version: version, Flavour: flavour, APIKey: key, SeedDir: seed, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts.URL
}

func runExport(t testing.TB, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := NewCommand(output.NewStreams(strings.NewReader(""), &out, &errOut))
	cmd.SetArgs(append([]string{"export"}, args...))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func lines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, m)
	}
	return out
}

type summary struct {
	Flavour  string `json:"flavour"`
	Protocol string `json:"protocol"`
	Records  int    `json:"records"`
	Models   []struct {
		Model     string `json:"model"`
		Records   int    `json:"records"`
		File      string `json:"file"`
		Watermark *struct {
			WriteDate string `json:"write_date"`
			ID        int    `json:"id"`
		} `json:"watermark"`
	} `json:"models"`
}

func TestExportEnterpriseAndOCA(t *testing.T) {
	t.Setenv("ODOO_API_KEY", key)
	for _, tc := range []struct {
		version  int
		flavour  string
		protocol string
		files    []string
	}{
		{17, "enterprise", "jsonrpc", []string{"helpdesk.ticket", "helpdesk.team", "helpdesk.stage", "helpdesk.sla", "helpdesk.sla.status", "helpdesk.ticket.type", "knowledge.article", "mail.message", "res.partner", "res.users"}},
		{19, "enterprise", "json2", []string{"helpdesk.ticket", "helpdesk.sla.status", "knowledge.article"}},
		{16, "oca", "jsonrpc", []string{"helpdesk.ticket", "helpdesk.ticket.team", "helpdesk.ticket.stage", "helpdesk.ticket.category", "helpdesk.ticket.channel"}},
	} {
		url := server(t, tc.version, tc.flavour, "../../../testdata/odoo/seed")
		dir := t.TempDir()
		stdout, _, err := runExport(t, "--odoo", url, "--odoo-db", "dvsync", "--odoo-user", "admin", "--out", dir, "--page-size", "97", "--json")
		if err != nil {
			t.Fatalf("%d %s: %v", tc.version, tc.flavour, err)
		}
		var sum summary
		if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
			t.Fatalf("summary %q: %v", stdout, err)
		}
		if sum.Flavour != tc.flavour || sum.Protocol != tc.protocol {
			t.Fatalf("summary %+v", sum)
		}
		counts := map[string]int{}
		for _, m := range sum.Models {
			counts[m.Model] = m.Records
			if got := len(lines(t, m.File)); got != m.Records {
				t.Fatalf("%s: file has %d lines, summary says %d", m.Model, got, m.Records)
			}
		}
		for _, f := range tc.files {
			if _, ok := counts[f]; !ok {
				t.Fatalf("%d %s: no %s in %v", tc.version, tc.flavour, f, counts)
			}
		}
		if counts["helpdesk.ticket"] != 300 {
			t.Fatalf("tickets = %d (archived ones included by default)", counts["helpdesk.ticket"])
		}
		if _, ok := counts["helpdesk.ticket.type"]; ok && tc.version >= 18 {
			t.Fatal("ticket types exported on 18+")
		}
		tickets := lines(t, filepath.Join(dir, "helpdesk.ticket.jsonl"))
		first := tickets[0]
		if first["id"] != float64(1) {
			t.Fatalf("first ticket %v", first["id"])
		}
		// Values are exported exactly as Odoo sends them.
		if stage, ok := first["stage_id"].([]any); !ok || len(stage) != 2 {
			t.Fatalf("stage_id = %v", first["stage_id"])
		}
		if _, ok := first["priority"].(string); !ok {
			t.Fatalf("priority = %#v", first["priority"])
		}
		matches, _ := filepath.Glob(filepath.Join(dir, "*.partial"))
		if len(matches) != 0 {
			t.Fatalf("partial files left: %v", matches)
		}
	}
}

func TestExportSinceAndKeyFile(t *testing.T) {
	t.Setenv("ODOO_API_KEY", "")
	url := server(t, 17, "enterprise", "../../../testdata/odoo/seed")
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	stdout, _, err := runExport(t, "--odoo", url, "--odoo-db", "dvsync", "--odoo-user", "admin", "--odoo-key-file", keyFile,
		"--models", "helpdesk.ticket", "--since", "2026-02-01", "--out", dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var sum summary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.Models) != 1 || sum.Models[0].Records == 0 || sum.Models[0].Records >= 300 {
		t.Fatalf("summary %+v", sum)
	}
	for _, tk := range lines(t, sum.Models[0].File) {
		if wd := tk["write_date"].(string); wd < "2026-02-01 00:00:00" {
			t.Fatalf("ticket %v written %s", tk["id"], wd)
		}
	}
	if wm := sum.Models[0].Watermark; wm == nil || wm.WriteDate < "2026-02-01" {
		t.Fatalf("watermark %+v", wm)
	}
}

func TestExportErrors(t *testing.T) {
	url := server(t, 17, "enterprise", "../../../testdata/odoo/seed")
	dir := t.TempDir()
	t.Setenv("ODOO_API_KEY", "")
	if _, _, err := runExport(t, "--odoo", url, "--odoo-db", "dvsync", "--odoo-user", "admin", "--out", dir); err == nil || !strings.Contains(err.Error(), "ODOO_API_KEY") {
		t.Fatalf("no key: %v", err)
	}
	t.Setenv("ODOO_API_KEY", "wrong-secret")
	_, _, err := runExport(t, "--odoo", url, "--odoo-db", "dvsync", "--odoo-user", "admin", "--out", dir)
	if err == nil || !strings.Contains(err.Error(), "authentication failed") || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("bad key: %v", err)
	}
	t.Setenv("ODOO_API_KEY", key)
	if _, _, err := runExport(t, "--odoo", url, "--odoo-db", "dvsync", "--odoo-user", "admin", "--models", "helpdesk.ticket.channel", "--out", dir); err == nil || !strings.Contains(err.Error(), "not installed") {
		t.Fatalf("absent model: %v", err)
	}
	if _, _, err := runExport(t, "--odoo", url, "--odoo-db", "dvsync", "--odoo-user", "admin", "--since", "yesterday", "--out", dir); err == nil || !strings.Contains(err.Error(), "--since") {
		t.Fatalf("bad since: %v", err)
	}
	// A failing model (no read access) leaves no file behind.
	if _, _, err := runExport(t, "--odoo", url, "--odoo-db", "dvsync", "--odoo-user", "admin", "--models", "helpdesk.tag,res.users.apikeys", "--out", dir); err == nil {
		t.Fatal("export of an unreadable model succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("files left after a failed export: %v", entries)
	}
}

// BenchmarkExport exports generated tickets with their threads and SLA
// statuses from the reference server; it reports records/s.
func BenchmarkExport(b *testing.B) {
	seed := filepath.Join(b.TempDir(), "seed")
	if _, err := odooseed.Generate(odooseed.Options{BaseDir: "../../../testdata/odoo/seed", OutDir: seed, Tickets: 10_000, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	url := server(b, 17, "enterprise", seed)
	b.Setenv("ODOO_API_KEY", key)
	b.ResetTimer()
	records := 0
	for b.Loop() {
		stdout, _, err := runExport(b, "--odoo", url, "--odoo-db", "dvsync", "--odoo-user", "admin", "--out", b.TempDir(), "--json")
		if err != nil {
			b.Fatal(err)
		}
		var sum summary
		if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
			b.Fatal(err)
		}
		records += sum.Records
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
