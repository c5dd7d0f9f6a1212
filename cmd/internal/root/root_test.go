package root

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/migrations/odoojob/odoojobtest"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

func execute(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Execute(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, errOut.String()
}

// commands lists every command path of the tree, groups included.
func commands(cmd *cobra.Command, path []string, out *[][]string) {
	for _, sub := range cmd.Commands() {
		if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
			continue
		}
		p := append(append([]string{}, path...), sub.Name())
		*out = append(*out, p)
		commands(sub, p, out)
	}
}

// TestUsageErrorsExitTwoInEveryCommand: what cobra refuses before a
// command runs (an unknown flag, a bad flag value, arguments a command
// does not take, a missing argument, an unknown command) exits 2 in
// every command, in one line that says where to look (issue 11 item 10).
func TestUsageErrorsExitTwoInEveryCommand(t *testing.T) {
	var paths [][]string
	commands(NewCommand(output.NewStreams(nil, &bytes.Buffer{}, &bytes.Buffer{})), nil, &paths)
	if len(paths) < 10 {
		t.Fatalf("only %d commands found", len(paths))
	}
	check := func(name string, args ...string) {
		t.Helper()
		code, stderr := execute(t, args...)
		if code != exitcode.Usage {
			t.Errorf("%s: dvsync %s: exit %d, want %d: %s", name, strings.Join(args, " "), code, exitcode.Usage, stderr)
			return
		}
		if strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "--help") {
			t.Errorf("%s: dvsync %s: %q, want one line pointing at --help", name, strings.Join(args, " "), stderr)
		}
	}
	root := NewCommand(output.NewStreams(nil, &bytes.Buffer{}, &bytes.Buffer{}))
	for _, p := range paths {
		check("unknown flag", append(p, "--no-such-flag")...)
		check("stray arguments", append(p, "a", "b", "c")...)
		c, _, err := root.Find(p)
		if err != nil {
			t.Fatal(err)
		}
		c.Flags().VisitAll(func(f *pflag.Flag) {
			switch f.Value.Type() {
			case "int", "int64", "bool", "duration", "float64":
				check("bad "+f.Value.Type()+" value", append(p, "--"+f.Name+"=notavalue")...)
			}
		})
	}
	check("unknown command", "nosuchcommand")
	check("missing argument", "push", "account")
	check("missing argument", "pull")
}

// TestUnauthorizedNamesTheTokenInEveryCommand: a 401 from the environment
// says, in one line, which token was refused and what to set, whichever
// command met it (issue 11 item 7); root explains it, so no command has
// to.
func TestUnauthorizedNamesTheTokenInEveryCommand(t *testing.T) {
	s := odoojobtest.Start(t, odoojobtest.SmallSeed(t, 3), nil)
	t.Setenv("DVSYNC_TOKEN", "not-the-servers-token")
	t.Setenv("DVSYNC_ENV", "")
	t.Setenv("ODOO_API_KEY", odoojobtest.OdooKey)
	dir := t.TempDir()
	records := filepath.Join(dir, "accounts.jsonl")
	os.WriteFile(records, []byte(`{"accountnumber":"A-1","name":"A"}`+"\n"), 0o600)
	job := filepath.Join(dir, "job.yaml")
	os.WriteFile(job, []byte("name: j\nsource:\n  dataverse: {env: "+s.DVURL+"}\ntarget:\n  sqlite: m.db\ntables: [incident]\n"), 0o600)
	odoo := []string{"--odoo", s.OdooURL, "--odoo-db", odooserver.Database, "--odoo-user", "admin"}
	usdExport := filepath.Join("..", "..", "..", "testdata", "usd", "small.zip")
	for _, args := range [][]string{
		{"pull", "account", "--env", s.DVURL, "--out", filepath.Join(dir, "pulled.jsonl")},
		{"push", "account", records, "--env", s.DVURL, "--key", "accountnumber"},
		append([]string{"migrate", "odoo", "--env", s.DVURL, "--state", filepath.Join(dir, "m.db")}, odoo...),
		append([]string{"verify", "--env", s.DVURL, "--state", filepath.Join(dir, "m.db"), "--report", dir}, odoo...),
		append([]string{"compare", "--env", s.DVURL, "--out", filepath.Join(dir, "cmp")}, odoo...),
		{"compare", "--env", s.DVURL, "--env-b", s.DVURL, "--tables", "account", "--out", filepath.Join(dir, "cmp2")},
		{"sync", "--job", job},
		{"usd", "assess", "--env", s.DVURL, "--out", filepath.Join(dir, "assess.md")},
		{"usd", "migrate", "--from", usdExport, "--to-env", s.DVURL, "--all-configurations", "--state", filepath.Join(dir, "usd.db")},
	} {
		code, stderr := execute(t, args...)
		var line string
		for _, l := range strings.Split(stderr, "\n") {
			if strings.Contains(l, "401") {
				line = l
			}
		}
		if code == 0 || !strings.Contains(line, "the server refused the token in $DVSYNC_TOKEN") || !strings.Contains(line, "--token-file") {
			t.Errorf("dvsync %s: exit %d, stderr:\n%s", strings.Join(args[:2], " "), code, stderr)
		}
		t.Logf("%s: exit %d: %s", strings.Join(args[:2], " "), code, line)
		if strings.Contains(stderr, "not-the-servers-token") {
			t.Errorf("dvsync %s: the token is in the output", strings.Join(args[:2], " "))
		}
	}
}
