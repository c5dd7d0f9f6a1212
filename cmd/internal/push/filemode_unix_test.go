//go:build unix

package push_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/migrations/reportstyle"
)

// TestPushRejectsFileHasTheOneFileMode: the rejects file is written as
// every report and data file is, reportstyle.FileMode less the umask
// (issue 11 item 10): not 0600, and not 0644 whatever the umask. The
// umask 027 tells both apart from the rule (0640).
func TestPushRejectsFileHasTheOneFileMode(t *testing.T) {
	old := syscall.Umask(0o027)
	defer syscall.Umask(old)
	want := reportstyle.FileMode &^ 0o027

	url, _ := server(t)
	rejects := filepath.Join(t.TempDir(), "rejects.jsonl")
	in := `{"accountnumber":"M-1","name":"kept"}` + "\n" + "{not json\n"
	_, err := runPush(t, in, "account", "-", "--env", url, "--key", "accountnumber", "--rejects", rejects, "--json")
	var exit *output.ExitError
	if !errors.As(err, &exit) || exit.Code != exitcode.Rejects {
		t.Fatalf("err = %v, want exit code %d (finished with rejects)", err, exitcode.Rejects)
	}
	st, err := os.Stat(rejects)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != want {
		t.Errorf("rejects file: mode %v, want %v (%v less the umask 027)", got, want, reportstyle.FileMode)
	}
}
