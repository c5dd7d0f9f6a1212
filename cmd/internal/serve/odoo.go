package serve

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/spf13/pflag"

	"github.com/dvsync/dvsync/odoo/odooserver"
	"github.com/dvsync/dvsync/testdata"
)

// defaultOdooSeed is used when it exists (running from a checkout); else
// the seed built into the binary is.
const defaultOdooSeed = "testdata/odoo/seed"

type odooOptions struct {
	listen  string
	version int
	flavour string
	seedDir string
}

func addOdooFlags(f *pflag.FlagSet, o *odooOptions) {
	f.StringVar(&o.listen, "odoo-listen", "", "also start the reference Odoo server on this address (e.g. 127.0.0.1:0)")
	f.IntVar(&o.version, "odoo-version", 17, "Odoo version the reference server behaves as (16, 17, 18 or 19)")
	f.StringVar(&o.flavour, "odoo-flavour", "enterprise", "helpdesk flavour: enterprise (helpdesk) or oca (helpdesk_mgmt)")
	f.StringVar(&o.seedDir, "odoo-seed", defaultOdooSeed, "seed directory for the reference Odoo server (empty: start empty)")
}

// odooLogin is the line that tells the user how to log in to the
// reference Odoo. A key from the environment is a secret and is not
// printed; the built-in default is not one.
func odooLogin() string {
	key := `API key and password "admin" (set ODOO_API_KEY to choose another)`
	if os.Getenv("ODOO_API_KEY") != "" {
		key = "API key and password from $ODOO_API_KEY"
	}
	return fmt.Sprintf("odoo login: database %q, user %q, %s", odooserver.Database, odooserver.AdminLogin, key)
}

// startOdoo builds the reference Odoo server. Its admin API key (and
// password) is ODOO_API_KEY, or "admin" when unset.
func startOdoo(ctx context.Context, o *odooOptions, logger *slog.Logger) (http.Handler, func(), error) {
	cleanup := func() {}
	if o.seedDir == defaultOdooSeed {
		if _, err := os.Stat(o.seedDir); err != nil {
			dir, err := os.MkdirTemp("", "dvsync-serve-odoo-")
			if err != nil {
				return nil, nil, err
			}
			cleanup = func() { os.RemoveAll(dir) }
			if o.seedDir, err = testdata.ExtractDir(testdata.OdooSeed, dir); err != nil {
				cleanup()
				return nil, nil, fmt.Errorf("built-in Odoo seed: %w", err)
			}
		}
	}
	key := os.Getenv("ODOO_API_KEY")
	if key == "" {
		key = "admin"
	}
	h, closeOdoo, err := newOdooServer(o, key, logger)
	// The seed is loaded when the server starts; its copy can go.
	cleanup()
	return h, closeOdoo, err
}

func newOdooServer(o *odooOptions, key string, logger *slog.Logger) (http.Handler, func(), error) {
	srv, err := odooserver.New(odooserver.Options{
		Version: o.version, Flavour: o.flavour, APIKey: key, SeedDir: o.seedDir, Logger: logger,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("starting the reference Odoo: %w", err)
	}
	return srv, func() {}, nil
}
