package migrations_test

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/dvsync/dvsync/migrations"
)

// BenchmarkRunInMemory measures the engine itself: source, mapping with one
// ID lookup per record, batching and checkpoint commits to a SQLite state
// file, into an in-memory target. It reports source records per second.
func BenchmarkRunInMemory(b *testing.B) {
	const nCust, nTick = 200, 20000
	for _, conc := range []int{1, 4} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			var records int64
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				st, err := migrations.OpenSQLite(b.Context(), filepath.Join(b.TempDir(), strconv.Itoa(i)+".db"))
				if err != nil {
					b.Fatal(err)
				}
				h := newHelpdeskJob(nCust, nTick)
				b.StartTimer()
				sum, err := migrations.Run(b.Context(), h.job, migrations.RunOptions{Store: st, Concurrency: conc})
				if err != nil {
					b.Fatal(err)
				}
				records += sum.Total().Read
				b.StopTimer()
				st.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkRunRefserver measures a migration into the reference Dataverse
// over loopback HTTP: accounts, then cases bound to them, upserted by
// alternate key with IDs read back for the ID map.
func BenchmarkRunRefserver(b *testing.B) {
	const nAcc, nCases = 400, 20000
	var records int64
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		c := newRefClient(b, "")
		st, err := migrations.OpenSQLite(b.Context(), filepath.Join(b.TempDir(), strconv.Itoa(i)+".db"))
		if err != nil {
			b.Fatal(err)
		}
		job := shopJob(c, nAcc, nCases)
		b.StartTimer()
		sum, err := migrations.Run(b.Context(), job, migrations.RunOptions{Store: st, Concurrency: 4})
		if err != nil {
			b.Fatal(err)
		}
		records += sum.Total().Read
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
