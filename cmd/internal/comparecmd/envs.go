package comparecmd

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/migrations/compare"
)

// runEnvs compares two Dataverse environments table by table; both use
// the connection flags' credentials.
func runEnvs(ctx context.Context, streams *output.Streams, o *options, since time.Time) error {
	if !since.IsZero() {
		return usage("--since applies to the Odoo comparison only")
	}
	prompt := func(msg string) { fmt.Fprintln(streams.Err, msg) }
	a, err := o.conn.Client(prompt, nil)
	if err != nil {
		return err
	}
	bconn := o.conn
	bconn.Env = o.envB
	b, err := bconn.Client(prompt, nil)
	if err != nil {
		return fmt.Errorf("--env-b: %w", err)
	}
	rep, err := compare.Environments(ctx, a, b, o.tables, o.out, "")
	if err != nil {
		return o.conn.Explain(err)
	}
	if o.json {
		if err := output.WriteJSON(streams.Out, rep); err != nil {
			return err
		}
	} else {
		var rows [][]string
		for _, t := range rep.Tables {
			rows = append(rows, []string{t.Table, fmt.Sprint(t.A), fmt.Sprint(t.B), fmt.Sprint(t.Matched), fmt.Sprint(t.OnlyInA),
				fmt.Sprint(t.OnlyInB), fmt.Sprint(t.Differing)})
		}
		if err := output.Table(streams.Out, []string{"table", "a", "b", "matched", "only in a", "only in b", "differing"}, rows); err != nil {
			return err
		}
		fmt.Fprintf(streams.Out, "\nReport: %s (Markdown: %s)\nDifferences: %s\n", filepath.Join(o.out, compare.FileEnvHTML),
			filepath.Join(o.out, compare.FileEnvMarkdown), filepath.Join(o.out, compare.FileEnvDifferencesCSV))
	}
	if o.failOnDiff && !rep.Clean() {
		return exitcode.Finished(1, "the environments differ; see "+filepath.Join(o.out, compare.FileEnvDifferencesCSV))
	}
	return nil
}
