// Package root assembles the dvsync command tree. Each command lives in its
// own package under cmd/internal; this package only wires them together and
// turns errors into one actionable line and an exit code.
package root

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/dvsync/dvsync/cmd/internal/output"
)

// Version is set at build time with -ldflags "-X .../root.Version=v1.2.3";
// otherwise the module version recorded by the Go toolchain is used.
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}

// NewCommand builds the root command with every subcommand attached.
func NewCommand(streams *output.Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dvsync",
		Short: "Move Dynamics 365 Customer Service data in and out of Dataverse",
		Long: `dvsync moves Dynamics 365 Customer Service data in and out of Microsoft Dataverse:
Unified Service Desk → Copilot Service workspace migration, Odoo helpdesk
migration, incremental sync, and local reference servers for Dataverse and Odoo.`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.Err)
	for _, sub := range subcommands(streams) {
		cmd.AddCommand(sub)
	}
	return cmd
}

// Execute runs dvsync with args and returns the process exit code.
func Execute(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	streams := output.NewStreams(in, out, errOut)
	cmd := NewCommand(streams)
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(ctx); err != nil {
		var exit *output.ExitError
		if errors.As(err, &exit) {
			if exit.Err != nil {
				fmt.Fprintln(errOut, "dvsync:", exit.Err)
			}
			return exit.Code
		}
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(errOut, "dvsync: interrupted")
			return 130
		}
		fmt.Fprintln(errOut, "dvsync:", err)
		return 1
	}
	return 0
}
