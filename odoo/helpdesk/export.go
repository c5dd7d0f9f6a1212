package helpdesk

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/dvsync/dvsync/odoo"
)

// ExportOptions control Export.
type ExportOptions struct {
	// Dir receives one <model>.jsonl per model.
	Dir string
	// Models to export; nil exports every helpdesk model that exists
	// (Models.All). Unknown names are refused before anything is read.
	Models []string
	// Since, when set, exports only records written at or after it.
	Since *odoo.Watermark
	// AllFields reads every readable field instead of the helpdesk field
	// lists (slower: Odoo computes non-stored fields per read).
	AllFields bool
	// ActiveOnly leaves archived records out (Odoo's default active_test).
	ActiveOnly bool
	// Concurrency is how many models are read at once (default 4).
	Concurrency int
	// PageSize overrides the client's page size.
	PageSize int
	// Parallel > 1 reads each model (without Since) in that many id slices
	// at once; see odoo.StreamOptions.Parallel.
	Parallel int
	// OnStart is called once with the number of records to expect (from
	// search_count; records written during the export may change it).
	OnStart func(total int)
	// OnProgress is called after each page with its record count, from
	// several goroutines.
	OnProgress func(n int)
}

// ModelExport is the outcome for one model.
type ModelExport struct {
	Model   string `json:"model"`
	Records int    `json:"records"`
	File    string `json:"file"`
	// Watermark is the highest (write_date, id) exported: pass it as Since
	// next time (minus a safety margin, see odoo.Client.Changes).
	Watermark *WatermarkJSON `json:"watermark,omitempty"`
}

// WatermarkJSON is a watermark as written in summaries.
type WatermarkJSON struct {
	WriteDate string `json:"write_date"`
	ID        int    `json:"id"`
}

// ExportSummary describes a finished export.
type ExportSummary struct {
	Flavour  Flavour       `json:"flavour"`
	Version  string        `json:"version"`
	Protocol string        `json:"protocol"`
	Since    string        `json:"since,omitempty"`
	Models   []ModelExport `json:"models"`
	Records  int           `json:"records"`
	Seconds  float64       `json:"seconds"`
	// RecordsPerSecond is Records / Seconds.
	RecordsPerSecond float64 `json:"records_per_second"`
}

// Export streams helpdesk models to JSON Lines files, one record per line
// exactly as Odoo returned it (many2one pairs, false for empty values), so
// that nothing is lost or reinterpreted on the way. Files are written as
// <model>.jsonl.partial and renamed when the model is complete: a file
// without the suffix is always whole.
func (r *Reader) Export(ctx context.Context, o ExportOptions) (*ExportSummary, error) {
	start := time.Now()
	models := o.Models
	if models == nil {
		models = r.Models.All()
	}
	if len(models) == 0 {
		return nil, fmt.Errorf("helpdesk: nothing to export")
	}
	have, err := r.c.InstalledModels(ctx, models...)
	if err != nil {
		return nil, err
	}
	for _, m := range models {
		if !have[m] {
			return nil, fmt.Errorf("helpdesk: model %s is not installed on this database (%s %d)", m, r.Flavour, r.Version)
		}
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	cx := odoo.Context{}
	if !o.ActiveOnly {
		cx = cx.WithArchived()
	}
	streams := make([]odoo.ModelStream, 0, len(models))
	total := 0
	for _, m := range models {
		var fields []string
		if !o.AllFields {
			if _, known := wantedFields[m]; known {
				if fields, err = r.Fields(ctx, m); err != nil {
					return nil, err
				}
			}
		}
		var domain odoo.Domain
		if m == r.Models.Message {
			// Only ticket threads, not the whole chatter of the database.
			domain = odoo.Cond("model", odoo.Eq, r.Models.Ticket)
		}
		if o.OnStart != nil {
			d := domain
			if o.Since != nil {
				d = odoo.And(d, odoo.Cond("write_date", odoo.Ge, o.Since.WriteDate))
			}
			n, err := r.c.SearchCount(ctx, m, d, cx)
			if err != nil {
				return nil, err
			}
			total += n
		}
		streams = append(streams, odoo.ModelStream{Model: m, Since: o.Since, Options: odoo.StreamOptions{
			Domain: domain, Fields: fields, Context: cx, PageSize: o.PageSize, OnPage: o.OnProgress, Parallel: o.Parallel,
		}})
	}
	if o.OnStart != nil {
		o.OnStart(total)
	}

	sinks := make(map[string]*jsonlSink, len(models))
	for _, m := range models {
		s, err := newJSONLSink(filepath.Join(o.Dir, m+".jsonl"))
		if err != nil {
			for _, s := range sinks {
				s.abort()
			}
			return nil, err
		}
		sinks[m] = s
	}
	err = r.c.StreamModels(ctx, streams, o.Concurrency, func(model string, rec odoo.Record) error {
		return sinks[model].write(rec)
	})
	if err != nil {
		for _, s := range sinks {
			s.abort()
		}
		return nil, err
	}
	sum := &ExportSummary{Flavour: r.Flavour, Version: r.c.Version().Version, Protocol: string(r.c.Protocol())}
	if o.Since != nil {
		sum.Since = odoo.FormatDatetime(o.Since.WriteDate)
	}
	for _, m := range models {
		s := sinks[m]
		if err := s.commit(); err != nil {
			return nil, err
		}
		me := ModelExport{Model: m, Records: s.n, File: s.path}
		if s.wmDate != "" {
			me.Watermark = &WatermarkJSON{WriteDate: s.wmDate, ID: s.wmID}
		}
		sum.Models = append(sum.Models, me)
		sum.Records += s.n
	}
	sum.Seconds = time.Since(start).Seconds()
	if sum.Seconds > 0 {
		sum.RecordsPerSecond = float64(sum.Records) / sum.Seconds
	}
	return sum, nil
}

// jsonlSink writes one model's records; it is used by one goroutine.
type jsonlSink struct {
	path   string
	f      *os.File
	w      *bufio.Writer
	n      int
	buf    []byte
	keys   []string
	quoted map[string][]byte
	wmDate string
	wmID   int
	once   sync.Once
}

func newJSONLSink(path string) (*jsonlSink, error) {
	// 0644 less the umask: the mode of every report and data file dvsync
	// writes (migrations/reportstyle.FileMode, which this layer does not
	// import).
	f, err := os.OpenFile(path+".partial", os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	return &jsonlSink{path: path, f: f, w: bufio.NewWriterSize(f, 256<<10)}, nil
}

// write emits the record with sorted keys, reusing the raw values as Odoo
// sent them (no decode/re-encode round trip).
func (s *jsonlSink) write(rec odoo.Record) error {
	// Every record of a model carries the same fields, so the sorted key
	// order and the quoted keys are computed once and reused.
	same := len(rec) == len(s.keys)
	for _, k := range s.keys {
		if !same {
			break
		}
		_, same = rec[k]
	}
	if !same {
		s.keys = s.keys[:0]
		for k := range rec {
			s.keys = append(s.keys, k)
		}
		slices.Sort(s.keys)
	}
	if s.quoted == nil {
		s.quoted = map[string][]byte{}
	}
	b := append(s.buf[:0], '{')
	for i, k := range s.keys {
		if i > 0 {
			b = append(b, ',')
		}
		kb, ok := s.quoted[k]
		if !ok {
			var err error
			if kb, err = json.Marshal(k); err != nil {
				return err
			}
			s.quoted[k] = kb
		}
		b = append(b, kb...)
		b = append(b, ':')
		b = append(b, rec[k]...)
	}
	b = append(b, '}', '\n')
	s.buf = b
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	s.n++
	// Track the highest (write_date, id): the watermark of the next run.
	if wd, err := rec.String("write_date"); err == nil && wd != "" {
		id := rec.ID()
		if wd > s.wmDate || (wd == s.wmDate && id > s.wmID) {
			s.wmDate, s.wmID = wd, id
		}
	}
	return nil
}

func (s *jsonlSink) commit() error {
	if err := s.w.Flush(); err != nil {
		s.abort()
		return err
	}
	if err := s.f.Sync(); err != nil {
		s.abort()
		return err
	}
	if err := s.f.Close(); err != nil {
		return err
	}
	return os.Rename(s.path+".partial", s.path)
}

// abort removes the partial file so that a failed export leaves no file
// that looks complete and no half-written one either.
func (s *jsonlSink) abort() {
	s.once.Do(func() {
		s.f.Close()
		os.Remove(s.path + ".partial")
	})
}
