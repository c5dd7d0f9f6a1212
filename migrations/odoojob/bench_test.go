package odoojob

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/dvsync/dvsync/odoo/odooseed"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

// BenchmarkMigrate migrates a generated helpdesk (DVSYNC_BENCH_TICKETS
// tickets, default 2000, with their messages and SLA statuses) from the
// reference Odoo into a fresh reference Dataverse per iteration, and
// reports source records per second overall and per large step.
//
//	go test -run '^$' -bench Migrate -benchtime 1x ./migrations/odoojob
func BenchmarkMigrate(b *testing.B) {
	tickets := 2000
	if v := os.Getenv("DVSYNC_BENCH_TICKETS"); v != "" {
		tickets, _ = strconv.Atoi(v)
	}
	seed := filepath.Join(b.TempDir(), "odoo")
	if _, err := odooseed.Generate(odooseed.Options{BaseDir: "../../testdata/odoo/seed", OutDir: seed, Tickets: tickets, Seed: 3}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var read int64
	var elapsed time.Duration
	perStep := map[string]float64{}
	for b.Loop() {
		b.StopTimer()
		s := startServers(b, seed, nil)
		cfg := Config{Odoo: s.odoo, Database: odooserver.Database, Dataverse: s.dv, Map: demoMap(b), Store: openStore(b, b.TempDir())}
		b.StartTimer()
		start := time.Now()
		sum, _, err := Migrate(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		read += sum.Total().Read
		for _, st := range sum.Steps {
			if st.Counts.Read >= 1000 {
				perStep[st.Step] += Rate(st.Counts.Read, st.Duration)
			}
		}
	}
	b.ReportMetric(float64(read)/elapsed.Seconds(), "records/s")
	for step, r := range perStep {
		b.ReportMetric(r/float64(b.N), step+"/s")
	}
}
