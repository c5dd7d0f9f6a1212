package synccmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/dataverse/refserver"
)

// TestDistributedSyncWritesTheRejectsFile: `sync --distribute` on a
// worker ends as a single-process run does with a rejected record: exit 3,
// the summary's count, and the record in <job>.rejects.jsonl beside the job
// file, one line in the single-process format (time, job, table, id,
// error), written by the coordinator from the shared state.
func TestDistributedSyncWritesTheRejectsFile(t *testing.T) {
	state, river := distState(t)

	const token = "synccmd-dist-token"
	t.Setenv("DVSYNC_TOKEN", token)
	ctx := context.Background()
	const acc = "0a0a0a0a-0000-4000-8000-0000000000aa"
	var urls []string
	for range 2 {
		srv, err := refserver.New(refserver.Options{Token: token})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv)
		t.Cleanup(func() { hs.Close(); srv.Close() })
		if err := srv.InsertRows(ctx, "account", 1, func(int) map[string]any {
			return map[string]any{"accountid": acc, "name": "Contoso", "accountnumber": "ACC-1", "statecode": 0, "statuscode": 1}
		}); err != nil {
			t.Fatal(err)
		}
		if len(urls) == 0 {
			// The source: case 2's title is longer than the 200
			// characters the target takes (stored past validation).
			if err := srv.InsertRows(ctx, "incident", 4, func(i int) map[string]any {
				title := fmt.Sprintf("Case %d", i)
				if i == 2 {
					title = strings.Repeat("x", 300)
				}
				return map[string]any{"incidentid": fmt.Sprintf("00000000-0000-4000-8000-%012x", i), "title": title, "ticketnumber": fmt.Sprintf("CAS-%d", i),
					"statecode": 0, "statuscode": 1, "customerid": refserver.Ref{Table: "account", ID: acc}}
			}); err != nil {
				t.Fatal(err)
			}
		}
		urls = append(urls, hs.URL)
	}
	dir := t.TempDir()
	job := filepath.Join(dir, "job.yaml")
	text := "name: copy\nsource:\n  dataverse: {env: " + urls[0] + "}\ntarget:\n  dataverse: {env: " + urls[1] + "}\ntables: [incident]\n"
	if err := os.WriteFile(job, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}

	startWorker(t, state, river)

	var out, errOut bytes.Buffer
	cmd := command(output.NewStreams(strings.NewReader(""), &out, &errOut), &options{dist: distOptions{river: river}})
	cmd.SetArgs([]string{"--job", job, "--state", state, "--distribute"})
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(ctx)
	rejects := filepath.Join(dir, "copy.rejects.jsonl")
	var exit *output.ExitError
	if !errors.As(err, &exit) || exit.Code != exitcode.Rejects || !strings.Contains(err.Error(), "1 records rejected; see "+rejects) {
		t.Fatalf("exit: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "REJECTS") || !strings.Contains(out.String(), "rejected records: "+rejects) {
		t.Errorf("summary:\n%s", out.String())
	}
	b, err := os.ReadFile(rejects)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d lines for 1 reject:\n%s", len(lines), b)
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(line))
	for k := range line {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"error", "id", "job", "table", "time"}) || line["id"] != "00000000-0000-4000-8000-000000000002" ||
		line["job"] != "copy" || line["table"] != "incident" || !strings.Contains(fmt.Sprint(line["error"]), "maximum allowed length") {
		t.Errorf("rejects line: %s", lines[0])
	}
}
