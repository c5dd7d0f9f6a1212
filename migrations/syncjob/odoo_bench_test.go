package syncjob_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dvsync/dvsync/migrations/odoojob/odoojobtest"
	"github.com/dvsync/dvsync/migrations/syncjob"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/odooseed"
)

// benchOdooTickets is the size of BenchmarkSyncOdooIncremental's helpdesk;
// DVSYNC_BENCH_ODOO_TICKETS=100000 gives the figure.
func benchOdooTickets() int {
	if n, err := strconv.Atoi(os.Getenv("DVSYNC_BENCH_ODOO_TICKETS")); err == nil && n > 0 {
		return n
	}
	return 1_000
}

// odooChanges changes tickets of a helpdesk of n the way a working day
// does: every one renamed and re-prioritised, every fourth moved to
// another stage (some of them solved, which closes the case), every
// second answered with a new message. It returns how many tickets and
// messages it changed.
func odooChanges(tb testing.TB, oc *odoo.Client, n, changed int) (tickets, messages int) {
	tb.Helper()
	ctx := context.Background()
	step := max(n/changed, 1)
	for k := range changed {
		id := 1 + k*step
		vals := map[string]any{"name": fmt.Sprintf("changed %d", id), "priority": strconv.Itoa(k % 4)}
		if k%4 == 0 {
			vals["stage_id"] = 2 + k%3 // In Progress, On Hold, Solved
		}
		if err := oc.Write(ctx, "helpdesk.ticket", []int{id}, vals); err != nil {
			tb.Fatal(err)
		}
		tickets++
		if k%2 == 0 {
			if err := oc.Call(ctx, "helpdesk.ticket", "message_post", []int{id}, map[string]any{
				"body": fmt.Sprintf("Answer %d", k), "message_type": "comment", "subtype_xmlid": "mail.mt_comment"}, nil, false); err != nil {
				tb.Fatal(err)
			}
			messages++
		}
	}
	return tickets, messages
}

// BenchmarkSyncOdooIncremental migrates a generated Odoo helpdesk (N
// tickets with their messages and SLA statuses) into the reference
// Dataverse with a first `dvsync sync` run, changes 1,000 tickets (a
// tenth of them when N is under 10,000) and half of them get a new
// message, then syncs again. It reports both runs' time and requests
// (Dataverse and Odoo), the incremental run's time as a percentage of the
// full migration's.
//
//	DVSYNC_BENCH_ODOO_TICKETS=100000 go test -run '^$' -bench SyncOdooIncremental -benchtime 1x -timeout 2h ./migrations/syncjob
func BenchmarkSyncOdooIncremental(b *testing.B) {
	n := benchOdooTickets()
	changed := min(1000, max(n/10, 1))
	seed := filepath.Join(b.TempDir(), "odoo")
	stats, err := odooseed.Generate(odooseed.Options{BaseDir: odoojobtest.Testdata("odoo", "seed"), OutDir: seed, Tickets: n, Seed: 3})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		// One clock for the reference Odoo and the sync, moved on between
		// runs: the data was loaded an hour before the migration, and the
		// changes are the next day's. (Without it, the incremental run
		// would read every row the seed stamped with its load time again:
		// a transaction open when the first run began could still have
		// committed rows dated then, within the job's 5-minute overlap.)
		var offset atomic.Int64
		now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
		e := startOdooSyncSeed(b, seed, "", now)
		offset.Add(int64(time.Hour))
		type figures struct {
			d                time.Duration
			dvReq, odooReq   int64
			cases, notes, sl syncjob.TableSummary
			sum              *syncjob.Summary
		}
		run := func() figures {
			dv0, _ := e.opts.Counter.Counts()
			od0, _ := e.odooCtr.Counts()
			start := time.Now()
			sum := e.run(b)
			f := figures{d: time.Since(start), sum: sum}
			dv1, _ := e.opts.Counter.Counts()
			od1, _ := e.odooCtr.Counts()
			f.dvReq, f.odooReq = dv1-dv0, od1-od0
			f.cases, f.notes, f.sl = tableSummary(b, sum, "cases"), tableSummary(b, sum, "notes"), tableSummary(b, sum, "sla-outcomes")
			return f
		}
		full := run()
		if full.cases.Upserted != int64(n) || full.notes.Read != int64(stats.Messages) {
			b.Fatalf("full run: cases %+v, notes %+v; the seed has %d tickets, %d messages", full.cases.Counts, full.notes.Counts, n, stats.Messages)
		}
		offset.Add(int64(24 * time.Hour))
		tickets, messages := odooChanges(b, e.odoo, n, changed)
		incr := run()
		// Each changed record is read once, give or take the overlap
		// window's few: an incremental run that reads the helpdesk again is
		// a regression, whatever its time.
		if incr.cases.Read > int64(tickets)+10 || incr.notes.Read > int64(messages)+10 {
			b.Fatalf("incremental run read cases %+v, notes %+v for %d changed tickets and %d messages", incr.cases.Counts, incr.notes.Counts, tickets, messages)
		}
		if incr.cases.Upserted != int64(tickets) || incr.notes.Upserted != int64(messages) {
			b.Fatalf("incremental run: cases %+v, notes %+v; changed %d tickets, posted %d messages", incr.cases.Counts, incr.notes.Counts, tickets, messages)
		}
		for _, f := range []struct {
			name string
			f    figures
		}{{"full", full}, {"incremental", incr}} {
			b.Logf("%s: %.2fs, %d Dataverse + %d Odoo requests; cases %+v; notes %+v; SLA outcomes %+v", f.name, f.f.d.Seconds(), f.f.dvReq, f.f.odooReq,
				f.f.cases.Counts, f.f.notes.Counts, f.f.sl.Counts)
			for _, ts := range f.f.sum.Tables {
				b.Logf("  %-16s %-24s read %7d  %.2fs", ts.Table, ts.Mode, ts.Read, ts.DurationSeconds)
			}
		}
		b.ReportMetric(full.d.Seconds(), "full-s")
		b.ReportMetric(float64(full.dvReq+full.odooReq), "full-requests")
		b.ReportMetric(incr.d.Seconds(), "incremental-s")
		b.ReportMetric(float64(incr.dvReq+incr.odooReq), "incremental-requests")
		b.ReportMetric(100*incr.d.Seconds()/full.d.Seconds(), "time-%")
		b.ReportMetric(100*float64(incr.dvReq+incr.odooReq)/float64(full.dvReq+full.odooReq), "requests-%")
	}
}
