package pull

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/dataverse"
)

func run(ctx context.Context, streams *output.Streams, o *options, table string) error {
	partitions, err := partitionsFlag(o.partitions)
	if err != nil {
		return exitcode.UsageError(err)
	}
	if (o.track || o.sinceToken != "") && (o.filter != "" || partitions > 1) {
		return exitcode.UsageError(errors.New("change tracking reads take no --filter and no --partitions (Dataverse rejects $filter with odata.track-changes)"))
	}
	format, err := output.FileFormat(o.format, o.out)
	if err != nil {
		return exitcode.UsageError(err)
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
			return exitcode.UsageError(errors.New("--portable writes JSONL: bind annotations do not fit a CSV header"))
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
	var file *output.AtomicFile
	if o.out != "" && o.out != "-" {
		file, err = output.CreateAtomic(o.out)
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
		if err := output.WriteFileAtomic(o.tokenOut, []byte(sum.DeltaLink+"\n")); err != nil {
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
