// Command dvsync moves Dynamics 365 Customer Service data in and out of
// Microsoft Dataverse: USD → Copilot Service workspace migration, Odoo
// helpdesk migration, incremental sync, and local reference servers.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/dvsync/dvsync/cmd/internal/root"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := root.Execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
