package connection

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/dvsync/dvsync/odoo"
)

// Odoo is the set of flags that name an Odoo database and its user. The
// API key is never a flag: it comes from $ODOO_API_KEY or a file.
type Odoo struct {
	URL, DB, User, KeyFile, Protocol string
	PageSize                         int
}

// AddFlags registers the Odoo connection flags.
func (f *Odoo) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.URL, "odoo", os.Getenv("ODOO_URL"), "Odoo server URL (default $ODOO_URL)")
	fs.StringVar(&f.DB, "odoo-db", os.Getenv("ODOO_DB"), "Odoo database (default $ODOO_DB)")
	fs.StringVar(&f.User, "odoo-user", os.Getenv("ODOO_USER"), "Odoo login (default $ODOO_USER); the API key is read from $ODOO_API_KEY")
	fs.StringVar(&f.KeyFile, "odoo-key-file", "", "read the Odoo API key from this file instead of $ODOO_API_KEY")
	fs.StringVar(&f.Protocol, "odoo-protocol", "auto", "auto, jsonrpc or json2")
	fs.IntVar(&f.PageSize, "odoo-page-size", odoo.DefaultPageSize, "records per Odoo read call")
}

// Client connects to Odoo; hc nil is the client's default HTTP client.
func (f *Odoo) Client(ctx context.Context, hc *http.Client) (*odoo.Client, error) {
	var missing []string
	for _, m := range []struct{ v, flag string }{{f.URL, "--odoo"}, {f.DB, "--odoo-db"}, {f.User, "--odoo-user"}} {
		if m.v == "" {
			missing = append(missing, m.flag)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing %s (or $ODOO_URL, $ODOO_DB, $ODOO_USER)", strings.Join(missing, ", "))
	}
	key := os.Getenv("ODOO_API_KEY")
	if f.KeyFile != "" {
		b, err := os.ReadFile(f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("reading --odoo-key-file: %w", err)
		}
		key = strings.TrimSpace(string(b))
	}
	if key == "" {
		return nil, errors.New("no Odoo API key: set ODOO_API_KEY or pass --odoo-key-file")
	}
	protocol, err := odoo.ParseProtocol(f.Protocol)
	if err != nil {
		return nil, err
	}
	c, err := odoo.New(ctx, odoo.Options{URL: f.URL, Database: f.DB, Login: f.User, APIKey: key, Protocol: protocol, PageSize: f.PageSize, HTTPClient: hc})
	var ae *odoo.AuthError
	if errors.As(err, &ae) {
		return nil, fmt.Errorf("%w (check --odoo-user and the API key)", err)
	}
	if err != nil {
		return nil, fmt.Errorf("odoo at %s: %w (check --odoo)", f.URL, err)
	}
	return c, nil
}
