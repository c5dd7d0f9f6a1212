package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/cmd/internal/output"
)

func TestDemo(t *testing.T) {
	out := filepath.Join(t.TempDir(), "reports")
	var stdout, stderr bytes.Buffer
	cmd := NewCommand(output.NewStreams(strings.NewReader(""), &stdout, &stderr))
	cmd.SetArgs([]string{"--out", out,
		"--dataverse-seed", "../../../testdata/dataverse/seed", "--odoo-seed", "../../../testdata/odoo/seed",
		"--usd", "../../../testdata/usd/contoso.zip", "--map", "../../../testdata/odoodv/demo-map.yaml"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("demo: %v\n%s", err, stderr.String())
	}
	for _, f := range []string{"usd-assessment.html", "usd-assessment.md", "usd-assessment.json", "usd-migration.json",
		"odoo-migration.json", "verify.html", "verify.json", "summary.json"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	var sum Summary
	b, _ := os.ReadFile(filepath.Join(out, "summary.json"))
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Verify == nil || !sum.Verify.OK || sum.USD == nil || sum.USD.Migration.Rejected != 0 || sum.Odoomig.Total().Rejected != 0 {
		t.Errorf("summary: %s", b)
	}
	// Servers bind to loopback only.
	for _, u := range []string{sum.Dataverse, sum.Odoo} {
		if !strings.HasPrefix(u, "http://127.0.0.1:") {
			t.Errorf("server URL %s is not loopback", u)
		}
	}
	// The warnings file is written even when empty, and matches the count.
	wb, err := os.ReadFile(filepath.Join(out, "odoo-warnings.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if n := int64(bytes.Count(wb, []byte("\n"))); n != sum.Odoomig.Warned || n != sum.Odoomig.Total().Warned {
		t.Errorf("odoo-warnings.jsonl has %d lines, summary says %d (steps %d)", n, sum.Odoomig.Warned, sum.Odoomig.Total().Warned)
	}
	if want := fmt.Sprintf("; %d mapping warnings", sum.Odoomig.Warned); !strings.Contains(stdout.String(), want) {
		t.Errorf("output does not give the warning count %q:\n%s", want, stdout.String())
	}
	if !strings.Contains(stdout.String(), "Reports are in "+out) {
		t.Errorf("output does not name the folder:\n%s", stdout.String())
	}
}

func TestDemoNeedsFixtures(t *testing.T) {
	_, err := Run(context.Background(), Options{Out: t.TempDir(), DataverseSeed: "nope", OdooSeed: "nope", Map: "nope"})
	if err == nil || !strings.Contains(err.Error(), "--dataverse-seed") {
		t.Errorf("missing fixtures: %v", err)
	}
}
