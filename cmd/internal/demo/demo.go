// Package demo implements `dvsync demo`: the whole toolkit on the reference
// servers, in one command, without an account or a network. It starts the
// reference Dataverse and the reference Odoo in-process on loopback with
// their seeds, assesses and migrates the sample Unified Service Desk export,
// migrates the Odoo helpdesk, verifies it, compares the helpdesk with the
// cases it became, and writes every report into one folder.
package demo

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/odoojob"
)

// embeddedUSD is the --usd value that selects the USD export built into
// the binary.
const embeddedUSD = "builtin:contoso.zip"

// Options configure a demo run. The fixture fields name files or folders
// on disk; empty means the copy embedded in the binary (package testdata),
// so the demo runs from any folder.
type Options struct {
	Out           string
	DataverseSeed string
	OdooSeed      string
	// USD is a CMT export to assess and migrate; embeddedUSD for the
	// built-in one, empty to skip the USD part.
	USD string
	Map string
	// Tickets, when positive, generates that many Odoo tickets (with
	// threads and SLA statuses) over the seed instead of its own tickets.
	Tickets int
	// Faults is a refserver fault profile (see dvsync serve --faults).
	Faults string
	JSON   bool
	// Progress receives one line per stage, and progress bars (lines off
	// a terminal) for long steps; Quiet silences both.
	Progress io.Writer
	Quiet    bool
}

// Summary is what the demo did, also written as summary.json. Its JSON
// names are camelCase, as in every JSON dvsync prints; Timings holds
// seconds per stage: usd, generateOdoo, odooMigration, verify, compare.
type Summary struct {
	Out       string             `json:"out"`
	Dataverse string             `json:"dataverse"`
	Odoo      string             `json:"odoo"`
	USD       *USDSummary        `json:"usd,omitempty"`
	Odoomig   *odoojob.Result    `json:"odooMigration"`
	Verify    *migrations.Report `json:"verify"`
	Compare   *CompareSummary    `json:"compare,omitempty"`
	Timings   map[string]float64 `json:"timingsSeconds"`
	Files     []string           `json:"files"`
	Generated *Generated         `json:"generated,omitempty"`
}

// Generated counts what --tickets generated over the Odoo seed.
type Generated struct {
	Tickets     int `json:"tickets"`
	Messages    int `json:"messages"`
	SLAStatuses int `json:"slaStatuses"`
}

// USDSummary is the USD part of the demo.
type USDSummary struct {
	Source     string            `json:"source"`
	Components int               `json:"components"`
	Migration  migrations.Counts `json:"migration"`
	Links      int               `json:"links"`
	Mismatches int               `json:"verificationMismatches"`
}

// CompareSummary is the comparison of the Odoo helpdesk with the cases it
// became: after a clean migration every ticket matches its case and none
// differs. The cases the environment held before the migration are
// rightly only in Dataverse; CasesBefore counts them.
type CompareSummary struct {
	Matched         int64  `json:"matched"`
	OnlyInOdoo      int64  `json:"onlyInOdoo"`
	OnlyInDataverse int64  `json:"onlyInDataverse"`
	Differing       int64  `json:"differing"`
	CasesBefore     int64  `json:"casesBeforeMigration"`
	Report          string `json:"report"`
}

// Differences are what the comparison found that a clean migration
// leaves none of: tickets without their case, cases the migration made
// that match no ticket, matched pairs that differ.
func (c *CompareSummary) Differences() int64 {
	return c.OnlyInOdoo + max(c.OnlyInDataverse-c.CasesBefore, 0) + c.Differing
}

// NewCommand returns `dvsync demo`.
func NewCommand(streams *output.Streams) *cobra.Command {
	o := &Options{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole toolkit on the built-in reference servers and write the reports",
		Long: `Run dvsync end to end on the local reference servers, with no account and no
network: start the reference Dataverse and the reference Odoo on loopback with
their seed data, assess and migrate the sample Unified Service Desk export into
Copilot Service workspace records, migrate the Odoo helpdesk into Customer
Service (accounts, contacts, queues, SLAs, cases, notes, articles), verify the
migration record by record, compare the helpdesk with the cases side by side
(dvsync compare), and write every report into one folder, named at the end.

It exits 0 when everything was written and verify and compare found nothing,
3 when records were rejected, verify found mismatches or compare differences.

The seeds, the USD export and the mapping are built into the binary, so the
demo runs from any folder; the --*-seed, --usd and --map flags replace them
with files of your own. --tickets N generates a larger Odoo helpdesk first.

The reference servers start empty on every run, so a folder that holds an
earlier demo's reports and state is cleared of that state first; a folder
holding anything else's state is refused.`,
		Example: `  go run ./cmd/dvsync demo
  dvsync demo --out ./demo --tickets 20000`,
		// Errors are printed once, by the root command, without usage.
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Progress = streams.Err
			sum, err := Run(cmd.Context(), *o)
			if sum != nil {
				if o.JSON {
					if werr := output.WriteJSON(streams.Out, sum); werr != nil && err == nil {
						err = werr
					}
				} else {
					printSummary(streams.Out, sum)
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Out, "out", "", "folder for the reports (default: dvsync-demo-<time> in the current directory)")
	f.StringVar(&o.DataverseSeed, "dataverse-seed", "", "seed folder of the reference Dataverse (default: built in)")
	f.StringVar(&o.OdooSeed, "odoo-seed", "", "seed folder of the reference Odoo (default: built in)")
	f.StringVar(&o.USD, "usd", embeddedUSD, "USD Configuration Migration Tool export to assess and migrate (default: built in; empty: skip)")
	f.StringVar(&o.Map, "map", "", "Odoo mapping file (default: built in)")
	f.IntVar(&o.Tickets, "tickets", 0, "generate this many Odoo tickets instead of the seed's")
	f.StringVar(&o.Faults, "faults", "off", "fault profile of the reference Dataverse, e.g. seed=1,reset=0.01")
	f.BoolVar(&o.JSON, "json", false, "print the summary as JSON")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "print only the summary: no stage lines, no progress")
	return cmd
}
