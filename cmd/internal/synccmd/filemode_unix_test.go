//go:build unix

package synccmd_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/migrations/reportstyle"
)

// TestSyncFilesHaveTheOneFileMode: the rejects file and the metrics file
// are written as every report and data file is, reportstyle.FileMode less
// the umask (issue 11 item 10): not 0600, and not 0644 whatever the umask.
// The umask 027 tells both apart from the rule (0640).
func TestSyncFilesHaveTheOneFileMode(t *testing.T) {
	old := syscall.Umask(0o027)
	defer syscall.Umask(old)
	want := reportstyle.FileMode &^ 0o027

	url, srv := server(t, 2)
	if err := srv.InsertRows(context.Background(), "incident", 1, func(int) map[string]any {
		return map[string]any{"incidentid": "00000000-0000-4000-8000-0000000000ff", "title": "bad", "statecode": 0, "statuscode": 1,
			"customerid": refserver.Ref{Table: "account", ID: "not-a-guid"}}
	}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	job := writeJob(t, dir, "name: modes\nsource:\n  dataverse: {env: "+url+"}\ntarget:\n  sqlite: m.db\ntables: [incident]\n")
	metrics := filepath.Join(dir, "dvsync.prom")
	code, out, errOut := execute("sync", "--job", job, "--metrics", metrics)
	if code != exitcode.Rejects {
		t.Fatalf("exit %d:\n%s\n%s", code, out, errOut)
	}
	for _, f := range []string{filepath.Join(dir, "modes.rejects.jsonl"), metrics} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v (%v less the umask 027)", filepath.Base(f), got, want, reportstyle.FileMode)
		}
	}
}
