package worker

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
)

// TestUsage: a worker without the shared PostgreSQL store, or with flags
// out of range, exits with the usage code before connecting anywhere.
func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--state postgres://… is required"},
		{[]string{"--state", "state.db"}, "is not a postgres:// URL"},
		{[]string{"--state", "postgres://u@127.0.0.1:1/db", "--concurrency", "0"}, "--concurrency and --max-requests must be positive"},
		{[]string{"--state", "postgres://u@127.0.0.1:1/db", "--rescue-after", "1s"}, "at least 3s"},
		{[]string{"--state", "postgres://u@127.0.0.1:1/db", "--no-such-flag"}, "unknown flag"},
	} {
		var out, errOut bytes.Buffer
		cmd := NewCommand(output.NewStreams(strings.NewReader(""), &out, &errOut))
		cmd.SetArgs(tc.args)
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		err := cmd.ExecuteContext(context.Background())
		var ee *output.ExitError
		if !errors.As(err, &ee) || ee.Code != exitcode.Usage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want exit %d with %q", tc.args, err, exitcode.Usage, tc.want)
		}
	}
}
