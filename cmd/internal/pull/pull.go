// Package pull implements `dvsync pull`: stream the records of one
// Dataverse table to a JSONL or CSV file, optionally with partitioned
// parallel reads or as a change-tracking (delta) read.
package pull

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dvsync/dvsync/cmd/internal/connection"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/schema"
)

type options struct {
	conn        connection.Dataverse
	sel         string
	filter      string
	partitions  string
	partitionBy string
	format      string
	out         string
	annotations bool
	portable    bool
	track       bool
	sinceToken  string
	tokenOut    string
	pageSize    int
	json        bool
	quiet       bool
}

// Summary is the --json result of a pull.
type Summary struct {
	Table      string `json:"table"`
	EntitySet  string `json:"entitySet"`
	Records    int64  `json:"records"`
	Deleted    int64  `json:"deleted"`
	Partitions int    `json:"partitions"`
	// Expected is the row count Dataverse gave before the read ($count, or
	// RetrieveTotalRecordCount past 5,000); absent when it could not say.
	Expected         *int64  `json:"expected,omitempty"`
	Seconds          float64 `json:"seconds"`
	RecordsPerSecond float64 `json:"recordsPerSecond"`
	Output           string  `json:"output"`
	Format           string  `json:"format"`
	DeltaLink        string  `json:"deltaLink,omitempty"`
	FullRead         bool    `json:"fullRead,omitempty"`
}

// NewCommand returns `dvsync pull`.
func NewCommand(streams *output.Streams) *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:   "pull TABLE",
		Short: "Stream the records of a Dataverse table to a JSONL or CSV file",
		Long: `Stream the records of a Dataverse table (logical or entity set name) to a
file or stdout, page by page, without holding the table in memory.

--partitions N reads N primary-key ranges concurrently; the result is the
same set of records as a single read, in no particular order. The default,
auto, counts the rows first ($count, or RetrieveTotalRecordCount past 5,000)
and reads one range per page up to the server's x-ms-dop-hint (at most 16):
a table of one page is one request, a large one is read in parallel.

A lookup that can point to several tables (customer, owner, regarding) is
written with its table name ("_customerid_value@Microsoft.Dynamics.CRM.
lookuplogicalname": "contact"; in CSV, a column of that name), so that
'dvsync push' can write the file back as it is.

--portable writes lookups whose target table has an alternate key as binds
by that key instead of GUIDs, so 'dvsync push' can load the file into an
environment whose GUIDs differ.

--track starts a change-tracking read and saves the delta link (--token-out);
--since-token reads only what changed since that link (rows deleted since
then appear as {"@odata.context":"…$deletedEntity","id":…}). An expired
token falls back to a full read, reported as fullRead in the summary.`,
		Example: `  dvsync pull incident --env https://org.crm.dynamics.com --out incidents.jsonl
  dvsync pull incident --select title,ticketnumber --filter "statecode eq 0" --format csv
  dvsync pull incident --partitions 4 --out incidents.jsonl --json
  dvsync pull contact --portable --out contacts.jsonl   # parentcustomerid_account@odata.bind by accountnumber
  dvsync pull incident --track --token-out incident.delta --out all.jsonl
  dvsync pull incident --since-token @incident.delta --token-out incident.delta --out changes.jsonl`,
		// Errors are printed once, by the root command, without usage.
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.conn.Explain(run(cmd.Context(), streams, o, args[0]))
		},
	}
	f := cmd.Flags()
	o.conn.AddFlags(f)
	f.StringVar(&o.sel, "select", "", "comma-separated columns to read (default: all)")
	f.StringVar(&o.filter, "filter", "", "OData $filter expression, e.g. \"statecode eq 0\"")
	f.StringVar(&o.partitions, "partitions", "auto", "concurrent range readers: auto (from the row count and x-ms-dop-hint) or 1-64")
	f.StringVar(&o.partitionBy, "partition-by", "key", "how --partitions splits the table: key or createdon")
	f.StringVar(&o.format, "format", "", "output format: jsonl or csv (default: from --out's extension, else jsonl)")
	f.StringVarP(&o.out, "out", "o", "", "output file (default: stdout); written atomically")
	f.BoolVar(&o.annotations, "annotations", false, "include formatted values and lookup annotations (Prefer: odata.include-annotations=\"*\")")
	f.BoolVar(&o.portable, "portable", false, "write lookups whose target table has an alternate key as binds by that key (\"customerid_account@odata.bind\": \"/accounts(accountnumber='A-1')\") instead of GUIDs, so the file can be pushed into another environment; JSONL only")
	f.BoolVar(&o.track, "track", false, "start a change-tracking read and report its delta link")
	f.StringVar(&o.sinceToken, "since-token", "", "delta link from an earlier --track pull, or @FILE holding it")
	f.StringVar(&o.tokenOut, "token-out", "", "write the new delta link to this file (atomically)")
	f.IntVar(&o.pageSize, "page-size", dataverse.DefaultPageSize, "records per page (odata.maxpagesize, at most 5000)")
	f.BoolVar(&o.json, "json", false, "print a JSON summary")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "show no progress")
	return cmd
}

// partitionsFlag reads --partitions: 0 for auto, else 1-64.
func partitionsFlag(v string) (int, error) {
	if v == "" || v == "auto" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 64 {
		return 0, fmt.Errorf("--partitions must be auto or between 1 and 64, not %q", v)
	}
	return n, nil
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

// readToken resolves "@FILE" to the file's content.
func readToken(v string) (string, error) {
	if name, ok := strings.CutPrefix(v, "@"); ok {
		b, err := os.ReadFile(name)
		if err != nil {
			return "", fmt.Errorf("reading delta token: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return strings.TrimSpace(v), nil
}

// annLookupTable is the annotation that names a lookup value's table
// ("_customerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "contact").
// Source: powerapps-docs developer/data-platform/webapi/query/select-columns.md
// ("Lookup property data"), requested with Prefer: odata.include-annotations.
const (
	lookupTableAnnotation = "Microsoft.Dynamics.CRM.lookuplogicalname"
	annLookupTable        = "@" + lookupTableAnnotation
)

// polymorphicLookups are the read names (_x_value) of the lookups among
// the pulled columns that can point to more than one table (customer,
// owner, regarding). Their GUID alone does not say which table it belongs
// to, so push could not bind it: a pull asks for the lookuplogicalname
// annotation of these, so that what pull writes, push takes back.
func polymorphicLookups(t *schema.Table, sel []string) []string {
	var out []string
	for i := range t.Columns {
		c := &t.Columns[i]
		if !c.Type.IsLookup() || len(c.Targets) < 2 {
			continue
		}
		if len(sel) > 0 && !slices.Contains(sel, c.ValueProperty()) && !slices.Contains(sel, c.LogicalName) {
			continue
		}
		if !slices.Contains(out, c.ValueProperty()) {
			out = append(out, c.ValueProperty())
		}
	}
	return out
}

// csvColumns is the CSV header: the selected columns, or every column of
// the table with lookups under their read names (_x_value). A lookup that
// can point to several tables is followed by its table-name annotation
// column, which push reads back.
func csvColumns(t *schema.Table, sel []string, tracked bool) []string {
	cols := []string{t.PrimaryID}
	if len(sel) > 0 {
		for _, c := range sel {
			if !slices.Contains(cols, c) {
				cols = append(cols, c)
			}
		}
	} else {
		for _, c := range t.Columns {
			name := c.LogicalName
			if c.Type.IsLookup() {
				name = c.ValueProperty()
			}
			if !slices.Contains(cols, name) {
				cols = append(cols, name)
			}
		}
	}
	var withTables []string
	poly := polymorphicLookups(t, sel)
	for _, c := range cols {
		withTables = append(withTables, c)
		if slices.Contains(poly, c) {
			withTables = append(withTables, c+annLookupTable)
		}
	}
	cols = withTables
	if tracked {
		cols = append(cols, "reason")
	}
	return cols
}

func run(ctx context.Context, streams *output.Streams, o *options, table string) error {
	partitions, err := partitionsFlag(o.partitions)
	if err != nil {
		return err
	}
	if (o.track || o.sinceToken != "") && (o.filter != "" || partitions > 1) {
		return errors.New("change tracking reads take no --filter and no --partitions (Dataverse rejects $filter with odata.track-changes)")
	}
	format, err := FormatFor(o.format, o.out)
	if err != nil {
		return err
	}
	client, err := o.conn.Client(func(m string) { fmt.Fprintln(streams.Err, m) }, &dataverse.ClientOptions{PageSize: o.pageSize})
	if err != nil {
		return err
	}
	t, err := client.Table(ctx, table)
	if err != nil {
		return err
	}
	sel := splitList(o.sel)
	q := dataverse.Query{Select: sel}
	if o.filter != "" {
		q.Filter = dataverse.RawFilter(o.filter)
	}
	if o.annotations {
		q.Annotations = "*"
	} else if len(polymorphicLookups(t, sel)) > 0 {
		q.Annotations = lookupTableAnnotation
	}
	var portable []portableLookup
	if o.portable {
		if format != "jsonl" {
			return errors.New("--portable writes JSONL: bind annotations do not fit a CSV header")
		}
		if portable, err = portableLookups(client.Schema(), t, sel); err != nil {
			return err
		}
		q.Expand = expands(portable)
		if (o.track || o.sinceToken != "") && len(portable) > 0 {
			return errors.New("--portable needs $expand, which change tracking reads reject; pull the delta without --portable")
		}
	}
	if _, err := q.Encode(); err != nil {
		return err
	}

	var dst io.Writer = streams.Out
	var file *AtomicFile
	if o.out != "" && o.out != "-" {
		file, err = CreateAtomic(o.out)
		if err != nil {
			return err
		}
		defer file.Abort()
		dst = file
	}
	tracked := o.track || o.sinceToken != ""
	var w RecordWriter
	if format == "csv" {
		if w, err = NewCSVWriter(dst, csvColumns(t, sel, tracked)); err != nil {
			return err
		}
	} else {
		w = NewJSONLWriter(dst)
	}

	// Size the read first: the progress total, and how many readers. A
	// delta read's size is unknown until it is read.
	var count dataverse.RowCount
	if o.sinceToken == "" {
		if count, err = client.CountRows(ctx, t.LogicalName, q.Filter); err != nil {
			// A table the server will not count (a 4xx other than auth or
			// throttling) is still read; anything else would fail the read too.
			if st := dataverse.StatusCode(err); st < 400 || st >= 500 || dataverse.IsAuth(err) || dataverse.IsThrottled(err) {
				return err
			}
			count = dataverse.RowCount{}
		}
	}
	if partitions == 0 {
		partitions = 1
		if !tracked {
			partitions = dataverse.AutoPartitions(count, client.PageSize(), client.DOPHint())
		}
	}
	total := int64(0)
	if count.Known() {
		total = count.N
	}
	progress := output.StartProgress(streams.Err, output.ProgressOptions{Description: "pulling " + t.EntitySetName, Total: total, Quiet: o.quiet})
	sum := Summary{Table: t.LogicalName, EntitySet: t.EntitySetName, Partitions: partitions, Format: format, Output: o.out}
	if count.Known() {
		sum.Expected = &count.N
	}
	if sum.Output == "" {
		sum.Output = "-"
	}
	start := time.Now()
	if tracked {
		since := ""
		if o.sinceToken != "" {
			if since, err = readToken(o.sinceToken); err != nil {
				return err
			}
		}
		res, err := client.TrackChanges(ctx, t.LogicalName, q, since, func(ch dataverse.Change) error {
			if ch.Deleted {
				sum.Deleted++
				rec := ch.Record
				if format == "csv" {
					rec = dataverse.Record{t.PrimaryID: ch.ID.String(), "reason": "deleted"}
				}
				progress.Add(1)
				return w.Write(rec)
			}
			sum.Records++
			progress.Add(1)
			return w.Write(ch.Record)
		})
		if err != nil {
			progress.Finish()
			return err
		}
		sum.DeltaLink, sum.FullRead = res.DeltaLink, res.Full
	} else if jw, ok := w.(*jsonlWriter); ok && len(portable) == 0 {
		// JSONL keeps each record as the server sent it: no decoding.
		for raw, err := range client.RawRecordsPartitioned(ctx, t.LogicalName, q, dataverse.PartitionOptions{Partitions: partitions, By: dataverse.PartitionBy(o.partitionBy)}) {
			if err != nil {
				progress.Finish()
				return err
			}
			if err := jw.WriteRaw(raw); err != nil {
				progress.Finish()
				return err
			}
			sum.Records++
			progress.Add(1)
		}
	} else {
		for rec, err := range client.RecordsPartitioned(ctx, t.LogicalName, q, dataverse.PartitionOptions{Partitions: partitions, By: dataverse.PartitionBy(o.partitionBy)}) {
			if err != nil {
				progress.Finish()
				return err
			}
			if err := makePortable(rec, portable); err != nil {
				progress.Finish()
				return err
			}
			if err := w.Write(rec); err != nil {
				progress.Finish()
				return err
			}
			sum.Records++
			progress.Add(1)
		}
	}
	progress.Finish()
	if err := w.Flush(); err != nil {
		return err
	}
	if file != nil {
		if err := file.Commit(); err != nil {
			return err
		}
	}
	if o.tokenOut != "" && sum.DeltaLink != "" {
		if err := WriteFileAtomic(o.tokenOut, []byte(sum.DeltaLink+"\n")); err != nil {
			return fmt.Errorf("saving delta link: %w", err)
		}
	}
	sum.Seconds = time.Since(start).Seconds()
	if sum.Seconds > 0 {
		sum.RecordsPerSecond = float64(sum.Records+sum.Deleted) / sum.Seconds
	}
	// Records may be on stdout; the summary then goes to stderr.
	report := streams.Out
	if file == nil {
		report = streams.Err
	}
	if o.json {
		return output.WriteJSON(report, sum)
	}
	msg := fmt.Sprintf("pulled %d %s in %.1fs (%.0f records/s) to %s", sum.Records, t.EntitySetName, sum.Seconds, sum.RecordsPerSecond, sum.Output)
	if partitions > 1 {
		msg += fmt.Sprintf(" with %d partitions", partitions)
	}
	if tracked {
		msg += fmt.Sprintf("; %d deleted", sum.Deleted)
		if sum.FullRead {
			msg += "; full read"
		}
		if o.tokenOut != "" {
			msg += "; delta link saved to " + o.tokenOut
		} else {
			msg += "\ndelta link: " + sum.DeltaLink
		}
	}
	_, err = fmt.Fprintln(report, msg)
	return err
}
