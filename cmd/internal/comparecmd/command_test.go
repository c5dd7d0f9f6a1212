package comparecmd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/cmd/internal/output"
)

func execute(t *testing.T, args ...string) error {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := NewCommand(output.NewStreams(strings.NewReader(""), &out, &errOut))
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	return cmd.ExecuteContext(context.Background())
}

// TestOneLineErrors: bad settings fail before any work with one line that
// says what to do.
func TestOneLineErrors(t *testing.T) {
	t.Setenv("DVSYNC_TOKEN", "t")
	t.Setenv("ODOO_API_KEY", "k")
	t.Setenv("DVSYNC_ENV", "")
	dir := t.TempDir()
	badMap := filepath.Join(dir, "map.yaml")
	os.WriteFile(badMap, []byte("compare:\n  colour: red\n"), 0o644)
	badRule := filepath.Join(dir, "rule.yaml")
	os.WriteFile(badRule, []byte("compare:\n  time_zone: Mars/Olympus\n"), 0o644)
	odoo := []string{"--odoo", "http://127.0.0.1:1", "--odoo-db", "db", "--odoo-user", "u", "--env", "http://127.0.0.1:1"}
	for _, c := range []struct {
		args []string
		want []string
		code int
	}{
		{append([]string{"--map", badMap}, odoo...), []string{badMap, "colour"}, 2},
		{append([]string{"--map", badRule}, odoo...), []string{"compare.time_zone", "IANA"}, 2},
		{append([]string{"--map", filepath.Join(dir, "nope.yaml")}, odoo...), []string{"nope.yaml", "--print-default-map"}, 2},
		{append([]string{"--state", filepath.Join(dir, "missing.db")}, odoo...), []string{"missing.db does not exist", "--state"}, 2},
		{[]string{"--odoo", "http://127.0.0.1:1"}, []string{"no environment", "--env"}, 0},
		{[]string{"--env", "http://127.0.0.1:1"}, []string{"missing --odoo, --odoo-db, --odoo-user"}, 0},
		{append([]string{"--since", "last week"}, odoo...), []string{"--since", "2025-01-31"}, 2},
		{[]string{"--env", "http://127.0.0.1:1", "--tables", "incident"}, []string{"--env-b"}, 2},
		{odoo, []string{"odoo at http://127.0.0.1:1", "check --odoo"}, 0},
	} {
		err := execute(t, c.args...)
		if err == nil {
			t.Errorf("%v: no error", c.args)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") {
			t.Errorf("%v: more than one line: %q", c.args, msg)
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%v: %q does not say %q", c.args, msg, w)
			}
		}
		var exit *output.ExitError
		if c.code != 0 && (!errors.As(err, &exit) || exit.Code != c.code) {
			t.Errorf("%v: exit %v, want %d", c.args, err, c.code)
		}
	}
}
