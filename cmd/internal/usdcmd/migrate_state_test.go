package usdcmd

import (
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/dataverse/refserver"
)

// A state written against an environment is refused once that environment
// was reset (same URL, none of the records the state wrote) before
// anything is written there, and --fresh starts over cleanly.
func TestMigrateStateOfAResetEnvironment(t *testing.T) {
	inTempDir(t)
	var current atomic.Pointer[http.Handler]
	_, url, writes := refEnv(t, func(first http.Handler) http.Handler {
		current.Store(&first)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*current.Load()).ServeHTTP(w, r) })
	})
	if _, _, err := run(t, "migrate", "--from", fixture("small.zip"), "--to-env", url, "--all-configurations"); err != nil {
		t.Fatalf("first run: %v", err)
	}
	reset, err := refserver.New(refserver.Options{Token: migrateToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reset.Close() })
	var h http.Handler = reset
	current.Store(&h)
	writes.Store(0)
	urlB, writesB := url, writes
	_, _, err = run(t, "migrate", "--from", fixture("small.zip"), "--to-env", urlB, "--all-configurations")
	var exit *output.ExitError
	if !errors.As(err, &exit) || exit.Code != 1 || !strings.Contains(err.Error(), "--fresh") || strings.Count(err.Error(), "\n") != 0 {
		t.Fatalf("run into the reset environment: err = %v, want a one-line exit 1 naming --fresh", err)
	}
	if n := writesB.Load(); n != 0 {
		t.Fatalf("the refused run sent %d writes to B", n)
	}

	if _, _, err := run(t, "migrate", "--from", fixture("small.zip"), "--to-env", urlB, "--all-configurations", "--dry-run", "--fresh"); err == nil {
		t.Error("--fresh with --dry-run was accepted")
	}
	stdout, _, err := run(t, "migrate", "--from", fixture("small.zip"), "--to-env", urlB, "--all-configurations", "--fresh", "--json")
	if err != nil {
		t.Fatalf("--fresh run into B: %v", err)
	}
	res := decodeMigrate(t, stdout)
	if tot := res.Total(); tot.Created == 0 || tot.Rejected != 0 || !res.Verification.OK {
		t.Fatalf("--fresh run into B: %+v, verification %+v", tot, res.Verification)
	}
}
