// Package usdcmd implements `dvsync usd`: reading a Unified Service Desk
// configuration, assessing its move to the Copilot Service workspace, and
// migrating it there.
package usdcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dvsync/dvsync/cmd/internal/connection"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/usd"
	"github.com/dvsync/dvsync/usd/assess"
)

// NewCommand returns the `usd` parent command.
func NewCommand(streams *output.Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "usd",
		Short: "Assess and migrate a Unified Service Desk configuration to the Copilot Service workspace",
		Long: `Read a Unified Service Desk (USD) configuration, exported with the Configuration
Migration Tool or read from an environment, work out what it becomes in the Copilot
Service workspace (assess), and write that workspace configuration to an
environment (migrate).`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newAssessCommand(streams), newMigrateCommand(streams))
	return cmd
}

type assessOptions struct {
	from          string
	conn          connection.Dataverse
	format        string
	out           string
	configuration string
	strict        bool
	all           bool
}

func newAssessCommand(streams *output.Streams) *cobra.Command {
	o := &assessOptions{}
	cmd := &cobra.Command{
		Use:   "assess",
		Short: "Report, component by component, what carries over automatically, partly or not at all",
		Long: `Assess a USD configuration: every hosted control, action call, event, navigation
rule, agent script, session line, toolbar, search, scriptlet, form and option gets
its Copilot Service workspace target, a verdict (automatic, partial, manual), the
reasons, and an effort estimate, totalled per verdict and component type.

The input is a Configuration Migration Tool export zip (data.xml, data_schema.xml,
[Content_Types].xml) given with --from, or the USD tables of a Dataverse
environment given with --env (authentication as for dvsync pull: --auth, DVSYNC_TOKEN
for the reference server, or the Azure credential chain and AZURE_* variables). A partly broken export is
still assessed; its problems are listed in the report and summarised on stderr.

--configuration picks one USD configuration; by default the configuration marked
as default is assessed, or every component when none is marked;
--all-configurations assesses every component of the export.`,
		Example: `  dvsync usd assess --from usd-export.zip --format html --out assessment.html
  dvsync usd assess --from usd-export.zip --configuration "Tier 1 Agents" --format md`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAssess(cmd.Context(), streams, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.from, "from", "", "Configuration Migration Tool export zip to read")
	o.conn.AddFlags(f)
	f.StringVar(&o.format, "format", "", "report format: html, md or json (default: from --out's extension, else md)")
	f.StringVarP(&o.out, "out", "o", "-", "file to write the report to; - for stdout")
	f.StringVar(&o.configuration, "configuration", "", "assess only this USD configuration")
	f.BoolVar(&o.all, "all-configurations", false, "assess every component of the export, whatever configuration it belongs to")
	f.BoolVar(&o.strict, "strict", false, "exit with status 2 when the export has errors (the report is still written)")
	return cmd
}

// formatFor picks the report format from the flag or the file extension.
func formatFor(format, out string) (string, error) {
	if format == "" {
		switch strings.ToLower(filepath.Ext(out)) {
		case ".html", ".htm":
			return "html", nil
		case ".json":
			return "json", nil
		default:
			return "md", nil
		}
	}
	switch f := strings.ToLower(format); f {
	case "html", "json":
		return f, nil
	case "md", "markdown":
		return "md", nil
	}
	return "", fmt.Errorf("--format %q: use html, md or json", format)
}

func runAssess(ctx context.Context, streams *output.Streams, o *assessOptions) error {
	format, err := formatFor(o.format, o.out)
	if err != nil {
		return &output.ExitError{Code: 2, Err: err}
	}
	var m *usd.Model
	var source string
	env := o.conn.Env
	if env == "" && o.from == "" {
		env = os.Getenv("DVSYNC_ENV")
	}
	switch {
	case o.from != "" && env != "":
		return &output.ExitError{Code: 2, Err: errors.New("give either --from or --env, not both")}
	case o.from != "":
		source = filepath.Base(o.from)
		m, err = usd.LoadFile(ctx, o.from)
		if err != nil {
			return &output.ExitError{Code: 1, Err: err}
		}
	case env != "":
		source = env
		client, err := o.conn.Client(func(msg string) { fmt.Fprintln(streams.Err, msg) }, nil)
		if err != nil {
			return &output.ExitError{Code: 2, Err: err}
		}
		m, err = (&usd.DataverseSource{Client: client, Name: env}).Load(ctx)
		if err != nil {
			return &output.ExitError{Code: 1, Err: err}
		}
	default:
		return &output.ExitError{Code: 2, Err: errors.New("--from FILE is required: a Configuration Migration Tool export zip of the USD configuration")}
	}
	if o.all && o.configuration != "" {
		return &output.ExitError{Code: 2, Err: errors.New("give either --configuration or --all-configurations, not both")}
	}
	sel := m
	if !o.all {
		if sel, err = usd.Select(m, o.configuration); err != nil {
			return &output.ExitError{Code: 2, Err: err}
		}
	}
	report := assess.Assess(sel, assess.Options{Source: source})
	if err := writeReport(streams.Out, o.out, func(w io.Writer) error {
		switch format {
		case "html":
			return report.WriteHTML(w)
		case "json":
			return report.WriteJSON(w)
		}
		return report.WriteMarkdown(w)
	}); err != nil {
		return &output.ExitError{Code: 1, Err: err}
	}
	summarise(streams.Err, report, o.out)
	if n := sel.Errors(); n > 0 && o.strict {
		return &output.ExitError{Code: 2, Err: fmt.Errorf("the export has %d error(s); first: %s", n, firstError(sel))}
	}
	return nil
}

func firstError(m *usd.Model) string {
	for _, p := range m.Problems {
		if p.Severity == usd.SeverityError {
			return p.String()
		}
	}
	return ""
}

// summarise prints one line of totals and the export's problems to stderr,
// so that a report written to a file still leaves a trace in the terminal.
func summarise(w io.Writer, r *assess.Report, out string) {
	t := r.Totals
	dest := ""
	if out != "-" {
		dest = " → " + out
	}
	scope := "all configurations"
	if r.Configuration != "" {
		scope = "configuration " + r.Configuration
	}
	fmt.Fprintf(w, "assessed %d components (%s): %d automatic, %d partial, %d manual; %.1f h estimated%s\n",
		t.Total.Count, scope, t.ByVerdict[assess.Automatic].Count, t.ByVerdict[assess.Partial].Count,
		t.ByVerdict[assess.Manual].Count, t.Total.Hours, dest)
	const shown = 5
	for i, p := range r.Problems {
		if i == shown {
			fmt.Fprintf(w, "  … and %d more problem(s), listed in the report\n", len(r.Problems)-shown)
			break
		}
		fmt.Fprintf(w, "  %s: %s\n", p.Severity, p.String())
	}
}

// writeReport writes to stdout, or to a temporary file renamed into place
// once complete, so that a failed run never leaves half a report behind.
func writeReport(stdout io.Writer, path string, write func(io.Writer) error) error {
	if path == "-" || path == "" {
		return write(stdout)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("writing report %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing report %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("writing report %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing report %s: %w", path, err)
	}
	return nil
}
