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

type assessOptions struct {
	from          string
	conn          connection.Dataverse
	format        string
	out           string
	configuration string
	strict        bool
	all           bool
	maxSize       sizeFlag
	maxValueSize  sizeFlag
	maxRatio      int64
}

func newAssessCommand(streams *output.Streams) *cobra.Command {
	o := &assessOptions{}
	cmd := &cobra.Command{
		Use:   "assess",
		Short: "Report, component by component, what carries over automatically, partly or not at all",
		Long: `Assess a USD configuration: every hosted control, action call, event, navigation
rule, agent script, session line, toolbar, search, scriptlet, form and option gets
its Copilot Service workspace target, a verdict (automatic, partial, manual, or no
equivalent when the workspace has no such concept), the reasons, the evidence a
page control's tab template is read from (its action calls and the navigation rules
that route to it), and an effort estimate, totalled per verdict and component type.
The rules and their sources are in docs/usd-verdicts.md.

The input is a Configuration Migration Tool export zip (data.xml, data_schema.xml,
[Content_Types].xml) given with --from, or the USD tables of a Dataverse
environment given with --env (authentication as for dvsync pull: --auth, DVSYNC_TOKEN
for the reference server, or the Azure credential chain and AZURE_* variables). A partly broken export is
still assessed; its problems are listed in the report and summarised on stderr.

--configuration picks one USD configuration; by default the configuration marked
as default is assessed, or every component when none is marked;
--all-configurations assesses every component of the export.

Every export is treated as untrusted: a part that decompresses beyond --max-size,
expands more than --max-ratio to one, or holds one value longer than
--max-value-size is refused with the entry and the limit named.

Exit status:
  0  the report was written; the export has no errors (warnings are allowed)
  1  nothing could be assessed (not a zip, no data.xml, a limit was exceeded,
     the report could not be written)
  2  usage error
  3  the report was written, but the export has error-level problems (a
     truncated archive, malformed XML, a missing data_schema.xml, dangling
     references); with --strict, warnings count too`,
		Example: `  dvsync usd assess --from usd-export.zip --format html --out assessment.html
  dvsync usd assess --from usd-export.zip --configuration "Tier 1 Agents" --format md`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAssess(cmd.Context(), streams, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.from, "from", "", "Configuration Migration Tool export zip to read")
	o.conn.AddFlags(f)
	f.StringVar(&o.format, "format", "", "report format: html, md, json or csv (default: from --out's extension, else md)")
	f.StringVarP(&o.out, "out", "o", "-", "file to write the report to; - for stdout")
	f.StringVar(&o.configuration, "configuration", "", "assess only this USD configuration")
	f.BoolVar(&o.all, "all-configurations", false, "assess every component of the export, whatever configuration it belongs to")
	f.BoolVar(&o.strict, "strict", false, "exit with status 3 on warnings too, not only on errors (the report is still written)")
	o.maxSize = sizeFlag(usd.DefaultLimits.MaxEntrySize)
	o.maxValueSize = sizeFlag(usd.DefaultLimits.MaxValueSize)
	f.Var(&o.maxSize, strings.TrimPrefix(usd.FlagMaxSize, "--"), "largest size one part of the export may decompress to (e.g. 512MiB, 2GiB)")
	f.Var(&o.maxValueSize, strings.TrimPrefix(usd.FlagMaxValueSize, "--"), "longest single value (or text run) in the export's XML")
	f.Int64Var(&o.maxRatio, strings.TrimPrefix(usd.FlagMaxRatio, "--"), usd.DefaultLimits.MaxRatio, "largest compression ratio a part over 1 MiB may have")
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
		case ".csv":
			return "csv", nil
		default:
			return "md", nil
		}
	}
	switch f := strings.ToLower(format); f {
	case "html", "json", "csv":
		return f, nil
	case "md", "markdown":
		return "md", nil
	}
	return "", fmt.Errorf("--format %q: use html, md, json or csv", format)
}

func runAssess(ctx context.Context, streams *output.Streams, o *assessOptions) error {
	format, err := formatFor(o.format, o.out)
	if err != nil {
		return &output.ExitError{Code: exitUsage, Err: err}
	}
	if o.maxRatio <= 0 {
		return &output.ExitError{Code: exitUsage, Err: fmt.Errorf("%s %d: give a positive ratio", usd.FlagMaxRatio, o.maxRatio)}
	}
	var m *usd.Model
	var source string
	env := o.conn.Env
	if env == "" && o.from == "" {
		env = os.Getenv("DVSYNC_ENV")
	}
	switch {
	case o.from != "" && env != "":
		return &output.ExitError{Code: exitUsage, Err: errors.New("give either --from or --env, not both")}
	case o.from != "":
		source = filepath.Base(o.from)
		m, err = usd.LoadFileLimits(ctx, o.from, usd.Limits{MaxEntrySize: int64(o.maxSize), MaxValueSize: int64(o.maxValueSize), MaxRatio: o.maxRatio})
		if err != nil {
			return &output.ExitError{Code: exitFailure, Err: err}
		}
	case env != "":
		source = env
		client, err := o.conn.Client(func(msg string) { fmt.Fprintln(streams.Err, msg) }, nil)
		if err != nil {
			return &output.ExitError{Code: exitUsage, Err: err}
		}
		m, err = (&usd.DataverseSource{Client: client, Name: env}).Load(ctx)
		if err != nil {
			return &output.ExitError{Code: exitFailure, Err: err}
		}
	default:
		return &output.ExitError{Code: exitUsage, Err: errors.New("--from FILE is required: a Configuration Migration Tool export zip of the USD configuration")}
	}
	if o.all && o.configuration != "" {
		return &output.ExitError{Code: exitUsage, Err: errors.New("give either --configuration or --all-configurations, not both")}
	}
	sel := m
	if !o.all {
		if sel, err = usd.Select(m, o.configuration); err != nil {
			return &output.ExitError{Code: exitUsage, Err: err}
		}
	}
	report := assess.Assess(sel, assess.Options{Source: source})
	if err := writeReport(streams.Out, o.out, func(w io.Writer) error {
		switch format {
		case "html":
			return report.WriteHTML(w)
		case "json":
			return report.WriteJSON(w)
		case "csv":
			return report.WriteCSV(w)
		}
		return report.WriteMarkdown(w)
	}); err != nil {
		return &output.ExitError{Code: exitFailure, Err: err}
	}
	summarise(streams.Err, report, o.out)
	if n := m.Errors(); n > 0 {
		return &output.ExitError{Code: exitProblems, Err: fmt.Errorf("the export has %d error(s), listed in the report; first: %s", n, firstOf(m, usd.SeverityError))}
	}
	if n := len(m.Problems); n > 0 && o.strict {
		return &output.ExitError{Code: exitProblems, Err: fmt.Errorf("--strict: the export has %d warning(s), listed in the report; first: %s", n, firstOf(m, usd.SeverityWarning))}
	}
	return nil
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
	fmt.Fprintf(w, "assessed %d components (%s): %d automatic, %d partial, %d manual, %d without an equivalent; automatic share %.1f%%; %.1f h estimated%s\n",
		t.Total.Count, scope, t.ByVerdict[assess.Automatic].Count, t.ByVerdict[assess.Partial].Count,
		t.ByVerdict[assess.Manual].Count, t.ByVerdict[assess.NoEquivalent].Count, t.AutomaticShare, t.Total.Hours, dest)
	const shown = 5
	for i, p := range r.Problems {
		if i == shown {
			fmt.Fprintf(w, "  … and %d more problem(s), listed in the report\n", len(r.Problems)-shown)
			break
		}
		fmt.Fprintf(w, "  %s: %s\n", p.Severity, p.String())
	}
}
