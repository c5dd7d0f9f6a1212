// Package push implements `dvsync push`: write the records of a JSONL or
// CSV file to a Dataverse table in adaptive batches, with every input record
// accounted for as written or rejected.
package push

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/dvsync/dvsync/cmd/internal/connection"
	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/dataverse"
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

// Summary is the --json result of a push. Input always equals
// Created + Updated + Written + Unchanged + Rejected.
type Summary struct {
	Table            string  `json:"table"`
	Mode             string  `json:"mode"`
	DryRun           bool    `json:"dryRun,omitempty"`
	Input            int64   `json:"input"`
	Created          int64   `json:"created"`
	Updated          int64   `json:"updated"`
	Written          int64   `json:"written"`
	Unchanged        int64   `json:"unchanged"`
	Rejected         int64   `json:"rejected"`
	Valid            int64   `json:"valid,omitempty"`
	RejectsFile      string  `json:"rejectsFile,omitempty"`
	Seconds          float64 `json:"seconds"`
	RecordsPerSecond float64 `json:"recordsPerSecond"`
	Throttled        int     `json:"throttled"`
	PeakConcurrency  int     `json:"peakConcurrency"`
}

// NewCommand returns `dvsync push`.
func NewCommand(streams *output.Streams) *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:   "push TABLE FILE",
		Short: "Write the records of a JSONL or CSV file to a Dataverse table",
		Long: `Write the records of FILE (JSONL or CSV; "-" for stdin) to a Dataverse table in
batches: CreateMultiple/UpdateMultiple/UpsertMultiple where the table supports
them, $batch otherwise. Batch size and concurrency adapt to the server's limits.

Every input record ends as created, updated, written (upserted) or rejected;
rejected records go to the rejects file with the Dataverse error, and the
counts always add up to the number of input records.

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
	f.StringVar(&o.mode, "mode", "upsert", "upsert, create or update")
	f.IntVar(&o.batch, "batch", 0, "starting records per request (default 100 with bulk messages, 10 with $batch); adapts to errors and timeouts")
	f.StringVar(&o.concurrency, "concurrency", "auto", "concurrent requests: auto (start from x-ms-dop-hint, back off on 429) or a number")
	f.StringVar(&o.rejects, "rejects", "", "file for rejected records, one JSON object per line (default: FILE.rejects.jsonl, created only if needed)")
	f.BoolVar(&o.dryRun, "dry-run", false, "check every record and report what would be written, without writing")
	f.StringVar(&o.format, "format", "", "input format: jsonl or csv (default: from FILE's extension)")
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
			return fmt.Errorf("table %s has no alternate key on %s", t.LogicalName, strings.Join(keyCols, ","))
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
	rejectsPath := o.rejects
	if rejectsPath == "" {
		if file == "-" {
			rejectsPath = t.LogicalName + ".rejects.jsonl"
		} else {
			rejectsPath = file + ".rejects.jsonl"
		}
	}
	rejects := &rejectsFile{path: rejectsPath}

	records := readJSONL(in)
	if format == "csv" {
		records = readCSV(in, t)
	}
	prep := sink.NewPreparer(client, t, mode, keyCols)
	sk := sink.New(client, nil)
	sum := Summary{Table: t.LogicalName, Mode: string(mode), DryRun: o.dryRun}
	progress := output.NewProgress(streams.Err, -1, "pushing "+t.EntitySetName)
	start := time.Now()

	// Raw input of records in flight, for the rejects file; entries leave
	// as results arrive, so memory is bounded by what is in flight.
	var mu sync.Mutex
	inflight := map[int64]json.RawMessage{}
	reject := func(line int64, raw json.RawMessage, err error) {
		sum.Rejected++
		rejects.add(rejection{Line: line, Error: describe(err), Record: raw})
	}
	var readErr error
	items := func(yield func(dataverse.Item) bool) {
		for r, err := range records {
			if err != nil {
				readErr = err
				return
			}
			mu.Lock()
			sum.Input++
			if r.err == nil {
				var item dataverse.Item
				item, r.err = prep.Prepare(ctx, r.record)
				if r.err == nil {
					if o.dryRun {
						sum.Valid++
						mu.Unlock()
						progress.Add(1)
						continue
					}
					item.Ref = r.line
					inflight[r.line] = r.raw
					mu.Unlock()
					if !yield(item) {
						return
					}
					continue
				}
			}
			reject(r.line, r.raw, r.err)
			mu.Unlock()
			progress.Add(1)
		}
	}
	report := func(res dataverse.Result) {
		mu.Lock()
		defer mu.Unlock()
		raw := inflight[res.Ref]
		delete(inflight, res.Ref)
		switch res.Outcome {
		case dataverse.OutcomeCreated:
			sum.Created++
		case dataverse.OutcomeUpdated:
			sum.Updated++
		case dataverse.OutcomeWritten:
			sum.Written++
		case dataverse.OutcomeUnchanged:
			sum.Unchanged++
		default:
			reject(res.Ref, raw, res.Err)
		}
		progress.Add(1)
	}
	var writeErr error
	if o.dryRun {
		for range items {
		}
	} else {
		writeErr = sk.WriteItems(ctx, t.LogicalName, items, dataverse.BatchOptions{
			Mode: mode, BatchSize: o.batch, DisableBulk: o.noBulk, Atomic: o.atomic, SkipUnchanged: o.skipSame,
		}, report)
	}
	progress.Finish()
	if err := rejects.close(); err != nil {
		return fmt.Errorf("writing rejects file %s: %w", rejectsPath, err)
	}
	if readErr != nil {
		return fmt.Errorf("%s: %w (records before this point were processed: %d)", file, readErr, sum.Input)
	}
	if writeErr != nil && sum.Input == 0 {
		return writeErr
	}
	sum.Seconds = time.Since(start).Seconds()
	if sum.Seconds > 0 {
		sum.RecordsPerSecond = float64(sum.Input) / sum.Seconds
	}
	st := client.Limiter().Stats()
	sum.Throttled, sum.PeakConcurrency = st.Throttled, st.PeakInFlight
	if sum.Rejected > 0 {
		sum.RejectsFile = rejectsPath
	}
	accounted := sum.Created + sum.Updated + sum.Written + sum.Unchanged + sum.Rejected
	if o.dryRun {
		accounted = sum.Valid + sum.Rejected
	}
	if accounted != sum.Input {
		return fmt.Errorf("internal error: %d input records but %d accounted for", sum.Input, accounted)
	}
	if o.json {
		if err := output.WriteJSON(streams.Out, sum); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(streams.Out, humanSummary(sum, t.EntitySetName))
	}
	if writeErr != nil {
		return exitcode.Of(writeErr)
	}
	return exitcode.Finished(sum.Rejected, fmt.Sprintf("%d of %d records rejected; reasons in %s", sum.Rejected, sum.Input, rejectsPath))
}

func humanSummary(s Summary, set string) string {
	if s.DryRun {
		return fmt.Sprintf("dry run: %d records read, %d would be written to %s, %d rejected", s.Input, s.Valid, set, s.Rejected)
	}
	return fmt.Sprintf("pushed %d records to %s in %.1fs (%.0f records/s): %d created, %d updated, %d written, %d unchanged, %d rejected",
		s.Input, set, s.Seconds, s.RecordsPerSecond, s.Created, s.Updated, s.Written, s.Unchanged, s.Rejected)
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
