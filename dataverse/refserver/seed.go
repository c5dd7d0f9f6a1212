package refserver

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dvsync/dvsync/dataverse/schema"
)

// SeedStats counts what LoadSeed did.
type SeedStats struct {
	Files    int `json:"files"`
	Created  int `json:"created"`
	Existing int `json:"existing"`
}

// LoadSeed loads fixture files from dir in lexical order. Each file is named
// NN-<entityset>.json and holds a JSON array of records in Web API create
// form (primary key set, lookups as <nav>@odata.bind). Records go through the
// same validation as a POST; records whose primary key already exists are
// left alone, so seeding a persistent store twice is harmless. The arrays
// are streamed, so a seed file may be larger than memory.
func (s *Server) LoadSeed(ctx context.Context, dir string) (SeedStats, error) {
	var st SeedStats
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return st, err
	}
	if len(files) == 0 {
		return st, fmt.Errorf("seed: no *.json files in %s", dir)
	}
	sort.Strings(files)
	for _, f := range files {
		if err := s.loadSeedFile(ctx, f, &st); err != nil {
			return st, err
		}
		st.Files++
	}
	return st, nil
}

func (s *Server) loadSeedFile(ctx context.Context, path string, st *SeedStats) error {
	base := strings.TrimSuffix(filepath.Base(path), ".json")
	set := base
	if _, after, ok := strings.Cut(base, "-"); ok {
		set = after
	}
	t, ok := s.reg.TableBySet(set)
	if !ok {
		return fmt.Errorf("seed: %s: no table has the entity set name %q", path, set)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return fmt.Errorf("seed: %s: expected a JSON array of records", path)
	}
	const batch = 500
	index := 0
	for dec.More() {
		var records []map[string]any
		for len(records) < batch && dec.More() {
			var rec map[string]any
			if err := dec.Decode(&rec); err != nil {
				return fmt.Errorf("seed: %s: record %d: %w", path, index+len(records), err)
			}
			records = append(records, rec)
		}
		err := s.store.write(ctx, func(tx *writeTx) error {
			for i, rec := range records {
				p, err := s.decodeObject(t, rec)
				if err != nil {
					return fmt.Errorf("seed: %s: record %d: %s", path, index+i, asAPIError(err).Message)
				}
				if id, ok := p.values[t.PrimaryID].(string); ok {
					if existing, err := tx.get(t, id); err != nil {
						return err
					} else if existing != nil {
						st.Existing++
						continue
					}
				}
				if err := s.createSeedRecord(tx, t, p); err != nil {
					return fmt.Errorf("seed: %s: record %d: %s", path, index+i, asAPIError(err).Message)
				}
				st.Created++
			}
			return nil
		})
		if err != nil {
			return err
		}
		index += len(records)
	}
	return nil
}

// createSeedRecord creates one fixture record. Fixtures describe end states
// (a resolved case, with its resolution in its own file), so they are
// imported the way the Configuration Migration Tool imports them: the state
// is applied as given rather than replayed through CloseIncident.
func (s *Server) createSeedRecord(tx *writeTx, t *schema.Table, p *payload) error {
	tx.closingIncident, tx.importing = true, true
	defer func() { tx.closingIncident, tx.importing = false, false }()
	_, err := s.createRecord(tx, t, p, "")
	return err
}
