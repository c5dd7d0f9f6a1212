// Package odooexport implements `dvsync odoo export`: stream an Odoo
// helpdesk (Enterprise or OCA, Odoo 16 to 19) to JSON Lines files.
package odooexport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/helpdesk"
)

// NewCommand returns the `odoo` command group with `export` beneath it.
func NewCommand(streams *output.Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "odoo",
		Short: "Work with an Odoo helpdesk (Enterprise helpdesk or OCA helpdesk_mgmt)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newExportCommand(streams))
	return cmd
}

type options struct {
	conn        connection
	models      []string
	since       string
	out         string
	pageSize    int
	concurrency int
	parallel    int
	allFields   bool
	activeOnly  bool
	json        bool
	quiet       bool
	verbose     bool
}

// connection holds the Odoo connection flags shared by Odoo commands.
type connection struct {
	url      string
	db       string
	user     string
	keyFile  string
	protocol string
}

func newExportCommand(streams *output.Streams) *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Stream helpdesk data to JSON Lines files, one per model",
		Long: `Stream an Odoo helpdesk to JSON Lines, one file per model (<model>.jsonl), each
record exactly as Odoo returns it. The helpdesk flavour (Enterprise helpdesk or
OCA helpdesk_mgmt) and the Odoo version are detected; JSON-2 is used on Odoo 19
and later, JSON-RPC before.

The API key is read from ODOO_API_KEY or from --odoo-key-file, never from the
command line. Archived records are included unless --active-only is given.
With --since, only records written at or after that time are exported; the summary
gives each model's watermark for the next run.`,
		Example: `  ODOO_API_KEY=... dvsync odoo export --odoo https://example.odoo.com --odoo-db example --odoo-user bot@example.com --out ./odoo
  dvsync odoo export --odoo http://127.0.0.1:8069 --odoo-db dvsync --odoo-user admin --models helpdesk.ticket,mail.message --since 2026-02-01 --out ./delta --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), streams, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.conn.url, "odoo", os.Getenv("ODOO_URL"), "Odoo server URL (default $ODOO_URL)")
	f.StringVar(&o.conn.db, "odoo-db", os.Getenv("ODOO_DB"), "Odoo database (default $ODOO_DB)")
	f.StringVar(&o.conn.user, "odoo-user", os.Getenv("ODOO_USER"), "Odoo login (default $ODOO_USER)")
	f.StringVar(&o.conn.keyFile, "odoo-key-file", "", "read the API key from this file instead of $ODOO_API_KEY")
	f.StringVar(&o.conn.protocol, "odoo-protocol", "auto", "auto, jsonrpc or json2")
	f.StringSliceVar(&o.models, "models", nil, "models to export (default: every helpdesk model present)")
	f.StringVar(&o.since, "since", "", "export only records written at or after this UTC time (RFC 3339, 'YYYY-MM-DD HH:MM:SS' or YYYY-MM-DD)")
	f.StringVar(&o.out, "out", "", "output directory (required)")
	f.IntVar(&o.pageSize, "page-size", odoo.DefaultPageSize, "records per search_read call")
	f.IntVar(&o.concurrency, "concurrency", 4, "models read at the same time")
	f.IntVar(&o.parallel, "parallel", 1, "id slices of one model read at the same time (full exports only)")
	f.BoolVar(&o.allFields, "all-fields", false, "read every field, not only the helpdesk field lists (slower)")
	f.BoolVar(&o.activeOnly, "active-only", false, "leave archived records out")
	f.BoolVar(&o.json, "json", false, "print the summary as JSON")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress on stderr")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log calls and retries to stderr")
	return cmd
}

func (c connection) apiKey() (string, error) {
	if c.keyFile != "" {
		b, err := os.ReadFile(c.keyFile)
		if err != nil {
			return "", fmt.Errorf("reading --odoo-key-file: %w", err)
		}
		key := strings.TrimSpace(string(b))
		if key == "" {
			return "", fmt.Errorf("--odoo-key-file %s is empty", c.keyFile)
		}
		return key, nil
	}
	if key := os.Getenv("ODOO_API_KEY"); key != "" {
		return key, nil
	}
	return "", errors.New("no Odoo API key: set ODOO_API_KEY or pass --odoo-key-file")
}

func (c connection) client(ctx context.Context, pageSize int, logger *slog.Logger) (*odoo.Client, error) {
	var missing []string
	if c.url == "" {
		missing = append(missing, "--odoo")
	}
	if c.db == "" {
		missing = append(missing, "--odoo-db")
	}
	if c.user == "" {
		missing = append(missing, "--odoo-user")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	protocol, err := odoo.ParseProtocol(c.protocol)
	if err != nil {
		return nil, err
	}
	key, err := c.apiKey()
	if err != nil {
		return nil, err
	}
	cl, err := odoo.New(ctx, odoo.Options{URL: c.url, Database: c.db, Login: c.user, APIKey: key, Protocol: protocol, PageSize: pageSize, Logger: logger})
	var ae *odoo.AuthError
	if errors.As(err, &ae) {
		return nil, fmt.Errorf("%w (check --odoo-user and the API key)", err)
	}
	return cl, err
}

// parseSince accepts RFC 3339, Odoo's naive UTC datetime, or a date.
func parseSince(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := odoo.ParseDatetime(s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want RFC 3339, 'YYYY-MM-DD HH:MM:SS' (UTC) or YYYY-MM-DD", s)
}

func run(ctx context.Context, streams *output.Streams, o *options) error {
	if o.out == "" {
		return errors.New("missing --out DIR")
	}
	if o.pageSize <= 0 {
		return errors.New("--page-size must be positive")
	}
	if o.concurrency <= 0 || o.parallel <= 0 {
		return errors.New("--concurrency and --parallel must be positive")
	}
	var since *odoo.Watermark
	if o.since != "" {
		t, err := parseSince(o.since)
		if err != nil {
			return err
		}
		since = &odoo.Watermark{WriteDate: t}
	}
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(streams.Err, &slog.HandlerOptions{Level: level}))
	client, err := o.conn.client(ctx, o.pageSize, logger)
	if err != nil {
		return err
	}
	reader, err := helpdesk.Detect(ctx, client)
	if err != nil {
		return err
	}
	var bar *output.Progress
	sum, err := reader.Export(ctx, helpdesk.ExportOptions{
		Dir: o.out, Models: o.models, Since: since, AllFields: o.allFields, ActiveOnly: o.activeOnly,
		Concurrency: o.concurrency, PageSize: o.pageSize, Parallel: o.parallel,
		OnStart: func(total int) {
			bar = output.StartProgress(streams.Err, output.ProgressOptions{Total: int64(total), Description: "export", Quiet: o.quiet})
		},
		OnProgress: func(n int) { bar.Add(n) },
	})
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return err
	}
	if o.json {
		return output.WriteJSON(streams.Out, sum)
	}
	rows := make([][]string, 0, len(sum.Models))
	for _, m := range sum.Models {
		wm := ""
		if m.Watermark != nil {
			wm = m.Watermark.WriteDate
		}
		rows = append(rows, []string{m.Model, fmt.Sprint(m.Records), m.File, wm})
	}
	if err := output.Table(streams.Out, []string{"model", "records", "file", "watermark"}, rows); err != nil {
		return err
	}
	_, err = fmt.Fprintf(streams.Out, "%d records from Odoo %s (%s, %s) in %.1fs, %.0f records/s\n",
		sum.Records, sum.Version, sum.Flavour, sum.Protocol, sum.Seconds, sum.RecordsPerSecond)
	return err
}
