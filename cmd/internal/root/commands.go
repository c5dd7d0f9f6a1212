package root

import (
	"github.com/spf13/cobra"

	"github.com/dvsync/dvsync/cmd/internal/comparecmd"
	"github.com/dvsync/dvsync/cmd/internal/demo"
	"github.com/dvsync/dvsync/cmd/internal/migrateodoo"
	"github.com/dvsync/dvsync/cmd/internal/odooexport"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/cmd/internal/pull"
	"github.com/dvsync/dvsync/cmd/internal/push"
	"github.com/dvsync/dvsync/cmd/internal/serve"
	"github.com/dvsync/dvsync/cmd/internal/synccmd"
	"github.com/dvsync/dvsync/cmd/internal/usdcmd"
	"github.com/dvsync/dvsync/cmd/internal/verify"
	"github.com/dvsync/dvsync/cmd/internal/worker"
)

// subcommands lists every top-level command. Add one line per command.
func subcommands(streams *output.Streams) []*cobra.Command {
	return []*cobra.Command{
		serve.NewCommand(streams),
		pull.NewCommand(streams),
		push.NewCommand(streams),
		odooexport.NewCommand(streams),
		usdcmd.NewCommand(streams),
		migrateodoo.NewCommand(streams),
		verify.NewCommand(streams),
		demo.NewCommand(streams),
		comparecmd.NewCommand(streams),
		synccmd.NewCommand(streams),
		worker.NewCommand(streams),
	}
}
