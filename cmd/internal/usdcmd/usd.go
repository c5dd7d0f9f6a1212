// Package usdcmd implements `dvsync usd`: reading a Unified Service Desk
// configuration, assessing its move to the Copilot Service workspace, and
// migrating it there.
package usdcmd

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/migrations/reportstyle"
	"github.com/dvsync/dvsync/usd"
)

// NewCommand returns the `usd` parent command.
func NewCommand(streams *output.Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "usd",
		Short: "Assess and migrate a Unified Service Desk configuration to the Copilot Service workspace",
		Long: `Read a Unified Service Desk (USD) configuration, exported with the Configuration
Migration Tool or read from an environment, work out what it becomes in the Copilot
Service workspace (assess), and write that workspace configuration to an
environment (migrate).`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newAssessCommand(streams), newMigrateCommand(streams))
	// A flag value that does not parse is a usage error (exit 2), like
	// every other usage error of the command.
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &output.ExitError{Code: exitUsage, Err: err} })
	return cmd
}

// Exit codes of usd, from the set every dvsync command shares (package
// exitcode): a broken export is "finished with problems".
const (
	exitFailure  = exitcode.Failure // nothing could be assessed: no report was written
	exitUsage    = exitcode.Usage
	exitProblems = exitcode.Rejects // the report was written; the export has error-level problems
)

func firstError(m *usd.Model) string { return firstOf(m, usd.SeverityError) }

func firstOf(m *usd.Model, sev usd.Severity) string {
	for _, p := range m.Problems {
		if p.Severity == sev {
			return p.String()
		}
	}
	return ""
}

// sizeFlag is a byte count given as 512MiB, 2GiB, 1GB or plain bytes.
type sizeFlag int64

func (s *sizeFlag) String() string { return usd.FormatSize(int64(*s)) }
func (s *sizeFlag) Type() string   { return "size" }

func (s *sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = sizeFlag(n)
	return nil
}

func parseSize(v string) (int64, error) {
	t := strings.TrimSpace(v)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(t), strings.ToUpper(u.suffix)) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not a size: give a positive number of bytes, optionally with KiB, MiB, GiB (or KB, MB, GB)", v)
	}
	return n * mult, nil
}

// writeReport writes to stdout, or to a temporary file renamed into place
// once complete, so that a failed run never leaves half a report behind.
func writeReport(stdout io.Writer, path string, write func(io.Writer) error) error {
	if path == "-" || path == "" {
		return write(stdout)
	}
	// With the file mode of every report and data file (reportstyle).
	if err := reportstyle.WriteFile(path, write); err != nil {
		return fmt.Errorf("writing report %s: %w", path, err)
	}
	return nil
}
