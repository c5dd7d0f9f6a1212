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

	"github.com/dvsync/dvsync/cmd/internal/connection"
	"github.com/dvsync/dvsync/cmd/internal/exitcode"
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

// Execute runs dvsync with args and returns the process exit code. Every
// command's error is rendered here, in one line: a 401 names the token
// that was refused (connection.Explain), and what cobra refuses before a
// command runs is a usage error (exit 2) in every command.
func Execute(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	streams := output.NewStreams(in, out, errOut)
	cmd := NewCommand(streams)
	cmd.SetArgs(args)
	started := false
	markStart(cmd, &started)
	failed, err := cmd.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	if !started {
		// An unknown command or flag, a bad flag value, a wrong number of
		// arguments: cobra found it before anything ran.
		fmt.Fprintf(errOut, "dvsync: %v (see '%s --help')\n", err, failed.CommandPath())
		return exitcode.Usage
	}
	code := exitcode.Failure
	var exit *output.ExitError
	switch {
	case errors.As(err, &exit):
		code, err = exit.Code, exit.Err
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(errOut, "dvsync: interrupted")
		return 130
	}
	if err != nil {
		fmt.Fprintln(errOut, "dvsync:", connection.Explain(err))
	}
	return code
}

// markStart makes every command of the tree set *started when its run
// function begins, so that Execute can tell cobra's own refusals (usage
// errors) from a command's.
func markStart(cmd *cobra.Command, started *bool) {
	if !cmd.Runnable() && cmd.HasSubCommands() {
		// A group prints its help; run, so that cobra checks its arguments
		// ("dvsync usd nosuch" is an unknown command, not a help request).
		if cmd.Args == nil {
			cmd.Args = cobra.NoArgs
		}
		cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	}
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error {
			*started = true
			return run(c, args)
		}
	}
	if run := cmd.Run; run != nil {
		cmd.Run = func(c *cobra.Command, args []string) {
			*started = true
			run(c, args)
		}
	}
	for _, sub := range cmd.Commands() {
		markStart(sub, started)
	}
}
