package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/dvsync/dvsync/mapping/odoodv"
	"github.com/dvsync/dvsync/migrations/odoojob"
	"github.com/dvsync/dvsync/migrations/reportstyle"
	"github.com/dvsync/dvsync/testdata"
	"github.com/dvsync/dvsync/usd"
)

// loadMap reads --map, or the demo map built into the binary (with the
// user map file it names, resolved inside the embedded folder).
func loadMap(file string) (*odoodv.Map, error) {
	if file != "" {
		return odoojob.LoadMap(file)
	}
	fsys := testdata.FS()
	data, err := fs.ReadFile(fsys, testdata.DemoMap)
	if err != nil {
		return nil, fmt.Errorf("built-in demo map: %w", err)
	}
	m, err := odoodv.ParseMap(data)
	if err != nil {
		return nil, fmt.Errorf("built-in demo map: %w", err)
	}
	if m.Users.MapFile != "" {
		users, err := fs.ReadFile(fsys, path.Join(path.Dir(testdata.DemoMap), m.Users.MapFile))
		if err != nil {
			return nil, fmt.Errorf("built-in demo map: users.map_file: %w", err)
		}
		um, err := odoodv.ParseUserMap(bytes.NewReader(users))
		if err != nil {
			return nil, fmt.Errorf("built-in demo map: %s: %w", m.Users.MapFile, err)
		}
		m.SetUserMap(um)
	}
	return m, nil
}

// loadUSD reads the CMT export at file, or the built-in one.
func loadUSD(ctx context.Context, file string) (*usd.Model, error) {
	if file != embeddedUSD {
		return usd.LoadFile(ctx, file)
	}
	b, err := fs.ReadFile(testdata.FS(), testdata.USD)
	if err != nil {
		return nil, err
	}
	return usd.NewCMTZip(bytes.NewReader(b), int64(len(b)), path.Base(testdata.USD)).Load(ctx)
}

// The demo's migration state and the files that mark a folder as the
// demo's own.
const (
	stateFile  = "odoo-state.db"
	markerFile = ".dvsync-demo"
)

// stateFiles are the state database and SQLite's companions.
var stateFiles = []string{stateFile, stateFile + "-wal", stateFile + "-shm", stateFile + "-journal"}

// startFresh prepares out for a new demo run. Every run starts new, empty
// reference servers, so the state of an earlier run (checkpoints and ID
// maps of servers that no longer exist) would make the migration skip
// steps and reject records against the new ones: it is removed. State that
// no demo wrote is never touched; the folder is refused instead. It
// reports whether earlier state was removed.
func startFresh(out string) (bool, error) {
	found := false
	for _, f := range stateFiles {
		if _, err := os.Stat(filepath.Join(out, f)); err == nil {
			found = true
		} else if !errors.Is(err, fs.ErrNotExist) {
			return false, err
		}
	}
	if found && !isDemoFolder(out) {
		return false, fmt.Errorf("--out %s holds %s that no dvsync demo wrote; give the demo a folder of its own", out, stateFile)
	}
	if found {
		for _, f := range stateFiles {
			if err := os.Remove(filepath.Join(out, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return false, fmt.Errorf("removing the earlier demo's state: %w", err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(out, markerFile), []byte("written by dvsync demo; its state in this folder is replaced on every run\n"), reportstyle.FileMode); err != nil {
		return false, err
	}
	return found, nil
}

// isDemoFolder recognises a folder an earlier demo wrote: its marker, or
// (for demos older than the marker) the rejects file the demo creates
// beside the state.
func isDemoFolder(out string) bool {
	for _, f := range []string{markerFile, "odoo-rejects.jsonl"} {
		if _, err := os.Stat(filepath.Join(out, f)); err == nil {
			return true
		}
	}
	return false
}
