// Command gen writes generated helpdesk tickets, message threads and SLA
// statuses next to the hand-written base seed.
//
//	go run ./testdata/odoo/gen                          # regenerate testdata/odoo/seed (300 tickets)
//	go run ./testdata/odoo/gen -n 100000 -out /tmp/seed # a benchmark seed
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/dvsync/dvsync/odoo/odooseed"
)

func main() {
	base := flag.String("base", "testdata/odoo/seed", "directory with the hand-written base seed")
	out := flag.String("out", "", "output directory (default: the base directory)")
	n := flag.Int("n", 300, "number of tickets")
	seed := flag.Uint64("seed", 5, "random seed; the same seed gives the same files")
	flag.Parse()
	if *out == "" {
		*out = *base
	}
	st, err := odooseed.Generate(odooseed.Options{BaseDir: *base, OutDir: *out, Tickets: *n, Seed: *seed})
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	fmt.Printf("%s: %d tickets, %d messages, %d SLA statuses\n", *out, st.Tickets, st.Messages, st.SLAStatuses)
}
