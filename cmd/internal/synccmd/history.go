package synccmd

import (
	"context"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
)

func newHistoryCommand(streams *output.Streams) *cobra.Command {
	o := &options{}
	limit := 20
	cmd := &cobra.Command{
		Use:   "history --job FILE",
		Short: "List a sync job's runs from its journal, newest first",
		Long: `List the runs of a sync job recorded in its state store: when each started
and ended, its status (succeeded, rejects, failed, interrupted, running), its
exit code and the totals of its summary. A run whose process was killed shows
as interrupted once the next run has started.`,
		Example: `  dvsync sync history --job reporting-copy.yaml
  dvsync sync history --job reporting-copy.yaml --limit 0 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return history(cmd.Context(), streams, o, limit)
		},
	}
	addCommon(cmd.Flags(), o)
	cmd.Flags().IntVar(&limit, "limit", 20, "show at most N runs (0: all)")
	cmd.SetFlagErrorFunc(usageError)
	return cmd
}

func history(ctx context.Context, streams *output.Streams, o *options, limit int) error {
	job, st, err := loadJob(ctx, o)
	if err != nil {
		return err
	}
	defer st.Close()
	runs, err := st.Runs(ctx, job.Name, limit)
	if err != nil {
		return &output.ExitError{Code: exitcode.Failure, Err: err}
	}
	if o.json {
		return output.WriteJSON(streams.Out, runs)
	}
	rows := make([][]string, 0, len(runs))
	for _, r := range runs {
		ended, d := "", ""
		if !r.Ended.IsZero() {
			ended = r.Ended.Local().Format(time.DateTime)
			d = r.Ended.Sub(r.Started).Round(time.Millisecond).String()
		}
		var read, up, del, unch, rej, req string
		if s := r.Summary; s != nil {
			f := func(n int64) string { return strconv.FormatInt(n, 10) }
			read, up, del, unch, rej, req = f(s.Totals.Read), f(s.Totals.Upserted), f(s.Totals.Deleted), f(s.Totals.Unchanged), f(s.Totals.Rejected), f(s.Totals.Requests)
		}
		rows = append(rows, []string{r.ID, r.Started.Local().Format(time.DateTime), ended, d, r.Status, strconv.Itoa(r.ExitCode),
			read, up, del, unch, rej, req})
	}
	return output.Table(streams.Out, []string{"run", "started", "ended", "duration", "status", "exit", "read", "upserted", "deleted", "unchanged", "rejected", "requests"}, rows)
}
