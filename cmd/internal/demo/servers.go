package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

func randomKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// serve serves h on a free loopback port until ctx ends.
func serve(ctx context.Context, h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	go srv.Serve(ln)
	stop := func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}
	return "http://" + ln.Addr().String(), stop, nil
}

func need(path, flag string) error {
	if path == "" {
		return nil
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%s %s: %w (leave %s out to use the built-in one)", flag, path, err, flag)
	}
	return nil
}

// servers are the demo's reference Dataverse and Odoo, in-process, on
// loopback only, with throwaway stores, and a client of each.
type servers struct {
	dvURL, odooURL string
	dv             *dataverse.Client
	odoo           *odoo.Client
	stop           []func()
}

func (s *servers) close() {
	for i := len(s.stop) - 1; i >= 0; i-- {
		s.stop[i]()
	}
}

// startServers starts both servers with their seeds; close stops them,
// also after an error.
func startServers(ctx context.Context, dvSeed, odooSeed string, faults *refserver.Faults) (*servers, error) {
	s := &servers{}
	token, odooKey := randomKey(), randomKey()
	ref, err := refserver.New(refserver.Options{Token: token, Faults: faults})
	if err != nil {
		return s, err
	}
	s.stop = append(s.stop, func() { ref.Close() })
	if _, err := ref.LoadSeed(ctx, dvSeed); err != nil {
		return s, fmt.Errorf("loading the Dataverse seed: %w", err)
	}
	dvURL, stopDV, err := serve(ctx, ref)
	if err != nil {
		return s, err
	}
	s.stop = append(s.stop, stopDV)
	osrv, err := odooserver.New(odooserver.Options{APIKey: odooKey, SeedDir: odooSeed})
	if err != nil {
		return s, fmt.Errorf("starting the reference Odoo: %w", err)
	}
	odooURL, stopOdoo, err := serve(ctx, osrv)
	if err != nil {
		return s, err
	}
	s.stop = append(s.stop, stopOdoo)
	s.dvURL, s.odooURL = dvURL+"/api/data/v9.2/", odooURL+"/"
	if s.dv, err = dataverse.NewClient(dvURL, dataverse.StaticToken(token), nil); err != nil {
		return s, err
	}
	if s.odoo, err = odoo.New(ctx, odoo.Options{URL: odooURL, Database: odooserver.Database, Login: "admin", APIKey: odooKey}); err != nil {
		return s, err
	}
	return s, nil
}
