package syncjob

import (
	"time"

	"github.com/dvsync/dvsync/dataverse"
)

// fallback syncs a table whose change tracking is off
// (EntityDefinitions ChangeTrackingEnabled false): rows modified since the
// watermark (minus the job's overlap) are read in modifiedon order, and
// deletes are found by comparing key sets: every source key is read (only
// the primary key column) and stamped in the mirror; rows left unstamped
// have been deleted. Both passes checkpoint after every page.
func (t *tableRun) fallback() error {
	if t.cp.Mode != ModeModifiedOn {
		// First run, or change tracking was turned off (Dataverse never
		// allows that, but a job may be pointed at another environment).
		t.cp = Checkpoint{Mode: ModeModifiedOn, Gen: max(t.cp.Gen, 1)}
	}
	switch t.cp.Phase {
	case "keyscan":
		return t.keyscan(t.cp.Link)
	case "changes":
		return t.changes(t.cp.Link)
	}
	if t.cp.Watermark == "" {
		// Nothing mirrored yet from this source: the full read is the
		// comparison.
		return t.changes("")
	}
	if err := t.save(Checkpoint{Mode: ModeModifiedOn, Phase: "keyscan", Gen: t.cp.Gen + 1, Watermark: t.cp.Watermark}); err != nil {
		return err
	}
	return t.keyscan("")
}

func (t *tableRun) keyscan(resume string) error {
	gen := t.cp.Gen
	pk := t.pk
	q := dataverse.Query{Select: []string{pk}, PageSize: t.r.job.PageSize}
	var p *dataverse.Pager
	if resume != "" {
		p = t.r.o.Client.ResumePager(t.ctx, resume, q, false)
	} else {
		p = t.r.o.Client.NewPager(t.ctx, t.name, q)
	}
	n, _, err := readPages(p, func(rec dataverse.Record) error {
		t.sum.KeysCompared++
		return t.ap.Mark(rec.String(pk), gen)
	}, func(link string) error {
		t.progress("keyscan")
		cp := t.cp
		cp.Link = link
		return t.save(cp)
	})
	if err != nil {
		if resume != "" && n == 0 && dataverse.IsBadRequest(err) {
			return t.keyscan("")
		}
		return err
	}
	if err := t.ap.Sweep(gen); err != nil {
		return err
	}
	if err := t.save(Checkpoint{Mode: ModeModifiedOn, Phase: "changes", Gen: gen, Watermark: t.cp.Watermark}); err != nil {
		return err
	}
	return t.changes("")
}

func (t *tableRun) changes(resume string) error {
	gen := t.cp.Gen
	pk := t.pk
	var p *dataverse.Pager
	q := t.query()
	if resume != "" {
		p = t.r.o.Client.ResumePager(t.ctx, resume, q, false)
	} else {
		if t.cp.Watermark != "" {
			w, err := time.Parse(time.RFC3339Nano, t.cp.Watermark)
			if err == nil {
				// Re-read the overlap: a row whose transaction began before
				// the last run's read and committed after it carries a
				// modifiedon the watermark has passed. Re-read rows that did
				// not change are counted unchanged, not rewritten.
				q.Filter = dataverse.Ge("modifiedon", w.Add(-t.r.job.Overlap).UTC())
			}
		}
		q.OrderBy = []dataverse.Order{{Column: "modifiedon"}, {Column: pk}}
		p = t.r.o.Client.NewPager(t.ctx, t.name, q)
	}
	maxSeen := t.cp.MaxSeen
	n, _, err := readPages(p, func(rec dataverse.Record) error {
		if m := rec.String("modifiedon"); m != "" && later(m, maxSeen) {
			maxSeen = m
		}
		return t.apply(rec, gen)
	}, func(link string) error {
		t.progress("changes")
		cp := t.cp
		cp.Phase, cp.Link, cp.MaxSeen = "changes", link, maxSeen
		return t.save(cp)
	})
	if err != nil {
		if resume != "" && n == 0 && dataverse.IsBadRequest(err) {
			return t.changes("")
		}
		return err
	}
	w := t.cp.Watermark
	if later(maxSeen, w) {
		w = maxSeen
	}
	t.progress("changes")
	return t.save(Checkpoint{Mode: ModeModifiedOn, Phase: "current", Gen: gen, Watermark: w})
}

// later reports whether RFC 3339 time a is after b ("" is before all).
func later(a, b string) bool {
	if b == "" {
		return a != ""
	}
	ta, err1 := time.Parse(time.RFC3339Nano, a)
	tb, err2 := time.Parse(time.RFC3339Nano, b)
	if err1 != nil || err2 != nil {
		return false
	}
	return ta.After(tb)
}
