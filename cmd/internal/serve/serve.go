// Package serve implements `dvsync serve`: the local reference Dataverse Web
// API and, on request, the reference Odoo server, on loopback.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/dataverse/schema"
)

type options struct {
	listen          string
	dataDir         string
	memory          bool
	seedDir         string
	tokenFile       string
	dopHint         int
	changeRetention time.Duration
	allowRemote     bool
	verbose         bool
	limits          string
	latency         string
	faults          string
	clock           string
	tables          []string
	odoo            odooOptions
}

// NewCommand returns the serve command.
func NewCommand(streams *output.Streams) *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the local reference Dataverse (and Odoo) servers on loopback",
		Long: `Run the local reference Dataverse Web API server (and, with --odoo-listen, the
reference Odoo server) on loopback. One line per started service is printed:

  dataverse http://127.0.0.1:PORT/api/data/v9.2/
  odoo http://127.0.0.1:PORT/

With --odoo-listen, the reference Odoo's login follows on stderr: database
dvsync, user admin, API key (and password) $ODOO_API_KEY, or "admin" when it
is unset.

The Dataverse server accepts any non-empty bearer token, or only the one in
--token-file (else $DVSYNC_TOKEN) when given; a token is never a flag, so it
never shows in process lists.

Data persists under --data unless --memory is given. Stop with Ctrl-C.`,
		Example: `  dvsync serve --memory --seed testdata/dataverse/seed
  dvsync serve --data ./dv --listen 127.0.0.1:0 --odoo-listen 127.0.0.1:0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), streams, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address for the Dataverse server (port 0 picks a free port)")
	f.StringVar(&o.dataDir, "data", defaultDataDir(), "directory for persistent data")
	f.BoolVar(&o.memory, "memory", false, "keep nothing after exit (throwaway store)")
	f.StringVar(&o.seedDir, "seed", "", "load JSON fixtures from this directory (e.g. testdata/dataverse/seed)")
	f.StringVar(&o.tokenFile, "token-file", "", "accept only the bearer token in this file (default $DVSYNC_TOKEN; neither: any non-empty token)")
	f.IntVar(&o.dopHint, "dop-hint", 4, "value of the x-ms-dop-hint response header")
	f.DurationVar(&o.changeRetention, "change-retention", refserver.DefaultChangeRetention, "how long change-tracking delta tokens stay valid")
	f.BoolVar(&o.allowRemote, "allow-non-loopback", false, "allow listening on a non-loopback address")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log every request to stderr")
	f.StringVar(&o.limits, "limits", "dataverse", `service protection limits per caller: "dataverse" (the default: 6,000 requests and 1,200 s per 300 s, 52 concurrent, as Dataverse), "off", or e.g. "requests=600/30s,time=120s/30s,concurrent=8"`)
	f.StringVar(&o.latency, "latency", "off", `added latency per response, e.g. "50ms+0.5ms/record"`)
	f.StringVar(&o.clock, "clock", "", "start the reference Dataverse's clock at this RFC 3339 time (e.g. 2026-01-09T16:45:00Z); it runs on from there and drives SLA timers, entitlement dates and article publishing")
	f.StringVar(&o.faults, "faults", "off", `injected faults, replayable by seed, e.g. "seed=42,503=0.02,500=0.01,reset=0.01,slow=0.02:2s" (503/500 are not applied; reset/slow are applied)`)
	f.StringArrayVar(&o.tables, "tables", nil, `declare more tables from a JSON file ({"tables":[...],"manyToMany":[...]}); repeatable`)
	addOdooFlags(f, &o.odoo)
	return cmd
}

func defaultDataDir() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "dvsync", "serve")
	}
	return ".dvsync-serve"
}

// listenLoopback refuses non-loopback addresses unless allowed: the
// reference servers have no real security and must not be exposed.
func listenLoopback(addr string, allow bool) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--listen %q: %w (use HOST:PORT, e.g. 127.0.0.1:0)", addr, err)
	}
	if !allow {
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("refusing to listen on %s: the reference servers are for loopback only; use 127.0.0.1 or pass --allow-non-loopback", addr)
		}
	}
	return net.Listen("tcp", addr)
}

func run(ctx context.Context, streams *output.Streams, o *options) error {
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(streams.Err, &slog.HandlerOptions{Level: level}))
	token := os.Getenv("DVSYNC_TOKEN")
	if o.tokenFile != "" {
		b, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return fmt.Errorf("reading --token-file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	reg := schema.Default()
	for _, path := range o.tables {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("--tables: %w", err)
		}
		err = reg.LoadJSON(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("--tables %s: %w", path, err)
		}
	}
	limits, err := refserver.ParseLimits(o.limits)
	if err != nil {
		return fmt.Errorf("--limits: %w", err)
	}
	latency, err := refserver.ParseLatency(o.latency)
	if err != nil {
		return fmt.Errorf("--latency: %w", err)
	}
	faults, err := refserver.ParseFaults(o.faults)
	if err != nil {
		return fmt.Errorf("--faults: %w", err)
	}
	var now func() time.Time
	if o.clock != "" {
		start, err := time.Parse(time.RFC3339, o.clock)
		if err != nil {
			return fmt.Errorf("--clock %q: want an RFC 3339 time such as 2026-01-09T16:45:00Z", o.clock)
		}
		now = refserver.NewClock(start, true).Now
	}
	dataPath := ""
	if !o.memory {
		dataPath = filepath.Join(o.dataDir, "dataverse.db")
	}
	srv, err := refserver.New(refserver.Options{
		Registry: reg, DataPath: dataPath, Token: token, DOPHint: o.dopHint,
		ChangeRetention: o.changeRetention, Logger: logger,
		Limits: limits, Latency: latency, Faults: faults, Now: now,
	})
	if err != nil {
		return fmt.Errorf("starting the reference Dataverse: %w", err)
	}
	defer srv.Close()
	if o.seedDir != "" {
		st, err := srv.LoadSeed(ctx, o.seedDir)
		if err != nil {
			return err
		}
		logger.Info("seed loaded", "files", st.Files, "created", st.Created, "existing", st.Existing)
	}
	ln, err := listenLoopback(o.listen, o.allowRemote)
	if err != nil {
		return err
	}
	servers := []*http.Server{{Handler: srv, ReadHeaderTimeout: 10 * time.Second}}
	listeners := []net.Listener{ln}
	fmt.Fprintf(streams.Out, "dataverse http://%s%s\n", ln.Addr(), refserver.APIPath)
	if token == "" {
		fmt.Fprintln(streams.Err, "dataverse login: any bearer token; for dvsync commands set DVSYNC_TOKEN to any value")
	} else {
		fmt.Fprintln(streams.Err, "dataverse login: only the token given with --token-file or $DVSYNC_TOKEN")
	}

	if o.odoo.listen != "" {
		h, closeOdoo, err := startOdoo(ctx, &o.odoo, logger)
		if err != nil {
			ln.Close()
			return err
		}
		defer closeOdoo()
		oln, err := listenLoopback(o.odoo.listen, o.allowRemote)
		if err != nil {
			ln.Close()
			return err
		}
		servers = append(servers, &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second})
		listeners = append(listeners, oln)
		fmt.Fprintf(streams.Out, "odoo http://%s/\n", oln.Addr())
		fmt.Fprintln(streams.Err, odooLogin())
	}
	if f, ok := streams.Out.(*os.File); ok {
		f.Sync()
	}

	errc := make(chan error, len(servers))
	for i := range servers {
		go func() { errc <- servers[i].Serve(listeners[i]) }()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range servers {
		s.Shutdown(shutdownCtx)
	}
	logger.Info("stopped; storage flushed")
	return nil
}
