package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/odoo/odooseed"
	"github.com/dvsync/dvsync/testdata"
)

// demoRun is one run of the demo: its options, what it did so far, and
// how it tells the user.
type demoRun struct {
	o   Options
	sum *Summary
}

func (r *demoRun) say(format string, a ...any) {
	if r.o.Progress != nil && !r.o.Quiet {
		fmt.Fprintf(r.o.Progress, format+"\n", a...)
	}
}

// timed runs f and records how long it took under name.
func (r *demoRun) timed(name string, f func() error) error {
	start := time.Now()
	err := f()
	r.sum.Timings[name] = time.Since(start).Seconds()
	return err
}

// file is the path of a report in the output folder, listed among the
// demo's files.
func (r *demoRun) file(name string) string {
	p := filepath.Join(r.o.Out, name)
	r.sum.Files = append(r.sum.Files, p)
	return p
}

// Run runs the demo. It returns the summary with an error too, holding
// what was done before the demo stopped; an *output.ExitError with
// exitcode.Rejects when it finished with rejects, mismatches or
// differences.
func Run(ctx context.Context, o Options) (*Summary, error) {
	for _, c := range []struct{ path, flag string }{{o.DataverseSeed, "--dataverse-seed"}, {o.OdooSeed, "--odoo-seed"}, {o.Map, "--map"}} {
		if err := need(c.path, c.flag); err != nil {
			return nil, err
		}
	}
	if o.USD != "" && o.USD != embeddedUSD {
		if err := need(o.USD, "--usd"); err != nil {
			return nil, err
		}
	}
	m, err := loadMap(o.Map)
	if err != nil {
		return nil, err
	}
	faults, err := refserver.ParseFaults(o.Faults)
	if err != nil {
		return nil, fmt.Errorf("--faults: %w", err)
	}
	if o.Out == "" {
		o.Out = "dvsync-demo-" + time.Now().UTC().Format("20060102-150405")
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	r := &demoRun{o: o, sum: &Summary{Out: o.Out, Timings: map[string]float64{}}}
	cleared, err := startFresh(o.Out)
	if err != nil {
		return nil, err
	}
	if cleared {
		r.say("starting fresh in %s: removed the earlier demo's state (its reference servers are gone)", o.Out)
	}
	tmp, err := os.MkdirTemp("", "dvsync-demo-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	dvSeed, odooSeed, err := r.seeds(tmp)
	if err != nil {
		return nil, err
	}
	srv, err := startServers(ctx, dvSeed, odooSeed, faults)
	defer srv.close()
	if err != nil {
		return nil, err
	}
	r.sum.Dataverse, r.sum.Odoo = srv.dvURL, srv.odooURL
	r.say("dataverse %s", r.sum.Dataverse)
	r.say("odoo %s", r.sum.Odoo)

	if o.USD != "" {
		if err := r.timed("usd", func() error { return r.usd(ctx, srv.dv, tmp) }); err != nil {
			return r.sum, err
		}
	}
	if err := r.odoo(ctx, srv, m); err != nil {
		return r.sum, err
	}
	if err := writeJSON(r.file("summary.json"), r.sum); err != nil {
		return r.sum, err
	}
	return r.sum, r.sum.exit()
}

// seeds returns the seed folders: the flags', or the built-in seeds
// written into tmp, with generated tickets when --tickets asks.
func (r *demoRun) seeds(tmp string) (dv, odoo string, err error) {
	dv, odoo = r.o.DataverseSeed, r.o.OdooSeed
	if dv == "" {
		if dv, err = testdata.ExtractDir(testdata.DataverseSeed, tmp); err != nil {
			return "", "", fmt.Errorf("built-in Dataverse seed: %w", err)
		}
	}
	if odoo == "" {
		if odoo, err = testdata.ExtractDir(testdata.OdooSeed, tmp); err != nil {
			return "", "", fmt.Errorf("built-in Odoo seed: %w", err)
		}
	}
	if r.o.Tickets <= 0 {
		return dv, odoo, nil
	}
	gen := filepath.Join(tmp, "generated-odoo")
	if err := r.timed("generateOdoo", func() error {
		st, err := odooseed.Generate(odooseed.Options{BaseDir: odoo, OutDir: gen, Tickets: r.o.Tickets, Seed: 1})
		r.sum.Generated = &Generated{Tickets: st.Tickets, Messages: st.Messages, SLAStatuses: st.SLAStatuses}
		return err
	}); err != nil {
		return "", "", fmt.Errorf("generating Odoo tickets: %w", err)
	}
	g := r.sum.Generated
	r.say("generated %d Odoo tickets, %d messages, %d SLA statuses", g.Tickets, g.Messages, g.SLAStatuses)
	return dv, gen, nil
}

// exit is the demo's exit: 3 when anything was rejected, or verify or
// compare found what does not match.
func (s *Summary) exit() error {
	var problems []string
	var n int64
	add := func(k int64, what string) {
		if k > 0 {
			n += k
			problems = append(problems, fmt.Sprintf("%d %s", k, what))
		}
	}
	if s.USD != nil {
		add(s.USD.Migration.Rejected, "USD records rejected")
		add(int64(s.USD.Mismatches), "USD verification mismatches")
	}
	if s.Odoomig != nil {
		add(s.Odoomig.Total().Rejected, "Odoo records rejected")
	}
	if s.Verify != nil {
		add(s.Verify.Mismatches(), "verify mismatches")
	}
	if c := s.Compare; c != nil {
		add(c.Differences(), "compare differences")
	}
	msg := fmt.Sprintf("the demo finished with %v; see the reports in %s", problems, s.Out)
	return exitcode.Finished(n, msg)
}
