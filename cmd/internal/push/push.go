// Package push implements `dvsync push`: write the records of a JSONL, JSON
// or CSV file to a Dataverse table in adaptive batches, with every input
// record accounted for as created, updated, unchanged or rejected.
package push

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dvsync/dvsync/cmd/internal/connection"
	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/schema"
	"github.com/dvsync/dvsync/dataverse/sink"
)

type options struct {
	conn        connection.Dataverse
	key         string
	mode        string
	batch       int
	concurrency string
	rejects     string
	dryRun      bool
	format      string
	noBulk      bool
	atomic      bool
	skipSame    bool
	json        bool
}

// NewCommand returns `dvsync push`.
func NewCommand(streams *output.Streams) *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:   "push TABLE FILE",
		Short: "Write the records of a JSONL, JSON or CSV file to a Dataverse table",
		Long: `Write the records of FILE (JSONL, a JSON array, or CSV; "-" for stdin) to a
Dataverse table in batches: CreateMultiple/UpdateMultiple/UpsertMultiple where
the table supports them, $batch otherwise. Batch size and concurrency adapt to
the server's limits.

Records are matched by the table's primary key column, or by --key (an
alternate key's columns). Records with neither are new: push them with
--mode create.

Every input record ends as created, updated, unchanged or rejected;
rejected records go to the rejects file with the Dataverse error, and the
counts always add up to the number of input records. A CSV column the table
does not have stops the push before anything is sent.

Records pulled with 'dvsync pull' can be pushed as they are: annotations and
read-only columns are dropped and lookups (_x_value) become @odata.bind. To
move records between environments whose GUIDs differ, push by alternate key
(--key) and bind lookups by key: "customerid_account@odata.bind":
"/accounts(accountnumber='A-1')".`,
		Example: `  dvsync push incident cases.jsonl --env https://org.crm.dynamics.com --key ticketnumber
  dvsync push account accounts.csv --mode create --rejects bad.jsonl --json
  dvsync push incident cases.jsonl --key ticketnumber --dry-run`,
		// Errors are printed once, by the root command, without usage.
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Context(), streams, o, args[0], args[1])
		},
	}
	f := cmd.Flags()
	o.conn.AddFlags(f)
	f.StringVar(&o.key, "key", "", "comma-separated alternate key columns that identify records (default: the primary key column)")
	f.StringVar(&o.mode, "mode", "upsert", "upsert, create or update; create needs no key")
	f.IntVar(&o.batch, "batch", 0, "starting records per request (default 100 with bulk messages, 10 with $batch); adapts to errors and timeouts")
	f.StringVar(&o.concurrency, "concurrency", "auto", "concurrent requests: auto (start from x-ms-dop-hint, back off on 429) or a number")
	f.StringVar(&o.rejects, "rejects", "", "file for rejected records, one JSON object per line (default: FILE.rejects.jsonl, created only if needed)")
	f.BoolVar(&o.dryRun, "dry-run", false, "check every record and report what would be written, without writing")
	f.StringVar(&o.format, "format", "", "input format: jsonl (also a JSON array) or csv (default: from FILE's extension)")
	f.BoolVar(&o.noBulk, "no-bulk", false, "use $batch even where bulk messages are available")
	f.BoolVar(&o.skipSame, "skip-unchanged", true, "read records before writing and leave out those that already hold the same values (reported as unchanged)")
	f.BoolVar(&o.atomic, "atomic", false, "send each $batch as one change set (all or nothing per batch)")
	f.BoolVar(&o.json, "json", false, "print a JSON summary")
	return cmd
}

func run(ctx context.Context, streams *output.Streams, o *options, table, file string) error {
	mode := dataverse.WriteMode(strings.ToLower(o.mode))
	if mode != dataverse.ModeUpsert && mode != dataverse.ModeCreate && mode != dataverse.ModeUpdate {
		return exitcode.UsageError(fmt.Errorf("unknown --mode %q: use upsert, create or update", o.mode))
	}
	format, err := output.FileFormat(o.format, file)
	if err != nil {
		return exitcode.UsageError(err)
	}
	copts := &dataverse.ClientOptions{}
	if o.concurrency != "" && o.concurrency != "auto" {
		n, err := strconv.Atoi(o.concurrency)
		if err != nil || n < 1 || n > dataverse.DocumentedConcurrencyLimit {
			return exitcode.UsageError(fmt.Errorf("--concurrency must be auto or 1-%d", dataverse.DocumentedConcurrencyLimit))
		}
		copts.Concurrency = n
	}
	copts.OnRetry = connection.RetryNotices(streams.Err)
	client, err := o.conn.Client(func(m string) { fmt.Fprintln(streams.Err, m) }, copts)
	if err != nil {
		return err
	}
	t, err := client.Table(ctx, table)
	if err != nil {
		return err
	}
	keyCols := splitList(o.key)
	if len(keyCols) > 0 && !(len(keyCols) == 1 && keyCols[0] == t.PrimaryID) && len(t.AlternateKeys) > 0 {
		if _, ok := t.AlternateKeyFor(keyCols); !ok {
			return exitcode.UsageError(fmt.Errorf("table %s has no alternate key on %s", t.LogicalName, strings.Join(keyCols, ",")))
		}
	}

	var in io.Reader = streams.In
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	prep := sink.NewPreparer(client, t, mode, keyCols)
	records, err := openRecords(in, format, t, prep, file)
	if err != nil {
		return err
	}
	rejectsPath := o.rejects
	if rejectsPath == "" {
		if file == "-" {
			rejectsPath = t.LogicalName + ".rejects.jsonl"
		} else {
			rejectsPath = file + ".rejects.jsonl"
		}
	}
	rejects := &rejectsFile{path: rejectsPath}
	progress := output.StartProgress(streams.Err, output.ProgressOptions{Description: "pushing " + t.EntitySetName})
	start := time.Now()
	n, err := sink.New(client, nil).Push(ctx, prep, records, sink.PushOptions{
		Batch:  dataverse.BatchOptions{Mode: mode, BatchSize: o.batch, DisableBulk: o.noBulk, Atomic: o.atomic, SkipUnchanged: o.skipSame},
		DryRun: o.dryRun,
		Rejected: func(r sink.PushRecord, err error) {
			rejects.add(rejection{Line: r.Line, Error: describe(err), Record: r.Raw})
		},
		Done: func() { progress.Add(1) },
	})
	progress.Finish()
	var noKey *sink.MissingKeyError
	if errors.As(err, &noKey) {
		rejects.discard()
		return exitcode.UsageError(errors.New(noKeyHint(file, t, mode, noKey)))
	}
	if cerr := rejects.close(); cerr != nil {
		return fmt.Errorf("writing rejects file %s: %w", rejectsPath, cerr)
	}
	var readErr *sink.ReadError
	if errors.As(err, &readErr) {
		return fmt.Errorf("%s: %w (records before this point were processed: %d)", file, readErr.Err, n.Input)
	}
	if err != nil && n.Input == 0 {
		return err
	}
	sum := newSummary(t.LogicalName, mode, o.dryRun, n, time.Since(start))
	st := client.Limiter().Stats()
	sum.Throttled, sum.PeakConcurrency = st.Throttled, st.PeakInFlight
	if sum.Rejected > 0 {
		sum.RejectsFile = rejectsPath
	}
	if o.json {
		if werr := output.WriteJSON(streams.Out, sum); werr != nil {
			return werr
		}
	} else {
		fmt.Fprintln(streams.Out, humanSummary(sum, t.EntitySetName))
	}
	if err != nil {
		return exitcode.Of(err)
	}
	return exitcode.Finished(sum.Rejected, fmt.Sprintf("%d of %d records rejected; reasons in %s", sum.Rejected, sum.Input, rejectsPath))
}

// openRecords reads FILE as JSONL (or a JSON array, told by its first
// character) or CSV. A CSV header naming a column the table does not have
// is a usage error, once, rather than a reject per row.
func openRecords(in io.Reader, format string, t *schema.Table, prep *sink.Preparer, file string) (iter.Seq2[sink.PushRecord, error], error) {
	if format != "csv" {
		br := bufio.NewReaderSize(in, 64<<10)
		if isJSONArray(br) {
			return readJSONArray(br), nil
		}
		return readJSONL(br), nil
	}
	header, records, err := readCSV(in, t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if bad := prep.UnknownColumns(header); len(bad) > 0 {
		return nil, exitcode.UsageError(fmt.Errorf("%s: the CSV header names %s, not a column of %s; rename or remove it (nothing was sent)", file, quoteList(bad), t.LogicalName))
	}
	return records, nil
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
