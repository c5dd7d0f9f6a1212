package compare

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dvsync/dvsync/mapping/canonical"
)

// strided yields i = 0..n-1 in a scattered order without holding a
// permutation: readers need not deliver key order.
func strided(n int) func(func(int) bool) {
	return func(yield func(int) bool) {
		const stride = 7919 // prime; coprime with the sizes used here
		for k := 0; k < n; k++ {
			if !yield((k * stride) % n) {
				return
			}
		}
	}
}

// planted: of every n/100-th record, a quarter lose their case, a quarter
// gain a stray case, half get one field changed.
type planted struct{ n, step int }

func (p planted) kind(i int) int {
	if i%p.step != p.step/2 {
		return 0
	}
	return 1 + (i/p.step)%4 // 1 missing in Dataverse, 2 extra in Dataverse, 3 and 4 changed
}

// benchTicket is synthetic(i) spread over about 14 months per million,
// as a real desk's tickets would be.
func benchTicket(i int) canonical.Ticket {
	t := synthetic(i)
	d := base.Add(time.Duration(i) * 37 * time.Second).Sub(t.Created)
	t.Created = t.Created.Add(d)
	if !t.Closed.IsZero() {
		t.Closed = t.Closed.Add(d)
	}
	return t
}

func (p planted) sources() (Source, Source) {
	odoo := func(yield func(canonical.Ticket, error) bool) {
		for i := range strided(p.n) {
			if !yield(benchTicket(i), nil) {
				return
			}
		}
	}
	dv := func(yield func(canonical.Ticket, error) bool) {
		for i := range strided(p.n) {
			t := dvOf(benchTicket(i), i)
			switch p.kind(i) {
			case 1:
				continue
			case 2:
				extra := t
				extra.Number, extra.SourceID, extra.CustomerEmail = "EXTRA-"+strconv.Itoa(i), "extra-"+strconv.Itoa(i), "stray@example.com"
				if !yield(extra, nil) {
					return
				}
			case 3:
				t.Title += " (edited)"
			case 4:
				t.PriorityCode = 1 + t.PriorityCode%3
			}
			if !yield(t, nil) {
				return
			}
		}
	}
	return odoo, dv
}

// peakRSS is the process's peak resident set (VmHWM), in MiB.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// benchCompare compares n Odoo tickets with n cases with 100 planted
// differences (25 missing, 25 extra, 50 changed) and fails unless exactly
// those are found. Run one size per process for a meaningful peak RSS:
//
//	go test ./migrations/compare/ -run '^$' -bench 'Compare/n=100000$' -benchtime 1x
func benchCompare(b *testing.B, n int) {
	md := testModel(b)
	p := planted{n: n, step: n / 100}
	for b.Loop() {
		odoo, dv := p.sources()
		start := time.Now()
		res, err := Run(context.Background(), odoo, dv, Options{Model: md, WorkDir: b.TempDir(), Now: base.AddDate(30, 0, 0)})
		if err != nil {
			b.Fatal(err)
		}
		var fields int64
		for _, v := range res.FieldDifferences {
			fields += v
		}
		if res.OnlyInOdoo != 25 || res.OnlyInDataverse != 25 || res.Differing != 50 || fields != 50 || res.Matched != int64(n-25) {
			b.Fatalf("planted 25/25/50, found only-in-odoo %d, only-in-dataverse %d, differing %d (%d fields), matched %d of %d",
				res.OnlyInOdoo, res.OnlyInDataverse, res.Differing, fields, res.Matched, n-25)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/compare")
	}
	b.ReportMetric(peakRSS(), "peak-RSS-MiB")
	b.ReportMetric(float64(2*n)/b.Elapsed().Seconds()*float64(b.N), "records/s")
}

func BenchmarkCompare(b *testing.B) {
	sizes := []int{10_000, 100_000, 1_000_000}
	if s := os.Getenv("DVSYNC_COMPARE_N"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 {
			b.Fatalf("DVSYNC_COMPARE_N=%q", s)
		}
		sizes = []int{n}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) { benchCompare(b, n) })
	}
}
