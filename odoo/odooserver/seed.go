package odooserver

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Seed directories hold one JSON Lines file per model, "<model>.jsonl", each
// line one record with an explicit "id". Records are written once, in the
// canonical shape of Enterprise helpdesk on Odoo 17 plus the OCA-only keys
// (channel_id, category_id, unattended, ...). LoadSeed projects them onto
// the configured version and flavour: fields and models that this version or
// flavour lacks are dropped, OCA renames are applied. A key unknown to every
// version and flavour is an error, so typos do not vanish silently.

// seedOrder is the load order; references point backwards in it.
var seedOrder = []string{
	"resource.calendar", "resource.calendar.attendance", "res.partner", "res.company", "res.users",
	"mail.message.subtype", "knowledge.article", "helpdesk.tag", "helpdesk.ticket.type",
	"helpdesk.ticket.category", "helpdesk.ticket.channel", "helpdesk.stage", "helpdesk.team", "helpdesk.sla",
	"helpdesk.ticket", "helpdesk.sla.status", "mail.message",
}

var ocaModel = map[string]string{
	"helpdesk.team":  "helpdesk.ticket.team",
	"helpdesk.stage": "helpdesk.ticket.stage",
	"helpdesk.tag":   "helpdesk.ticket.tag",
}

var ocaField = map[string]map[string]string{
	"helpdesk.team":   {"member_ids": "user_ids"},
	"helpdesk.ticket": {"close_date": "closed_date", "assign_date": "assigned_date", "date_last_stage_update": "last_stage_update", "ticket_ref": "number"},
}

// knownFields is the union of every model's fields over all versions and
// flavours.
var knownFields = sync.OnceValue(func() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for v := 16; v <= 19; v++ {
		for _, fl := range []string{FlavourEnterprise, FlavourOCA} {
			ms, err := buildSchema(v, fl)
			if err != nil {
				panic(err)
			}
			for name, m := range ms {
				if out[name] == nil {
					out[name] = map[string]bool{}
				}
				for f := range m.fields {
					out[name][f] = true
				}
			}
		}
	}
	return out
})

// SeedError locates a bad seed line.
type SeedError struct {
	File string
	Line int
	Err  error
}

func (e *SeedError) Error() string {
	return fmt.Sprintf("odooserver: seed %s:%d: %v", e.File, e.Line, e.Err)
}
func (e *SeedError) Unwrap() error { return e.Err }

// LoadSeed loads the seed directory dir (for `dvsync serve`,
// testdata/odoo/seed). Records whose id already exists are updated, so a
// seed may rename the base company or admin. It can be called more than once.
func (srv *Server) LoadSeed(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("odooserver: seed: %w", err)
	}
	present := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".jsonl") {
			continue
		}
		model := strings.TrimSuffix(name, ".jsonl")
		if !slices.Contains(seedOrder, model) {
			return fmt.Errorf("odooserver: seed: unknown model file %s", filepath.Join(dir, name))
		}
		present[model] = filepath.Join(dir, name)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	srv.seeding = true
	defer func() { srv.seeding = false }()
	teamStages := map[int][]int{} // OCA keeps the team/stage link on the stage
	for _, canonical := range seedOrder {
		path, ok := present[canonical]
		if !ok {
			continue
		}
		if err := srv.loadSeedFile(path, canonical, teamStages); err != nil {
			return err
		}
	}
	if srv.opts.Flavour == FlavourOCA && len(teamStages) > 0 {
		m, t, _ := srv.store.model("helpdesk.ticket.stage")
		for _, stageID := range slices.Sorted(maps.Keys(teamStages)) {
			if r := t.byID[stageID]; r != nil {
				if err := srv.writeRecord(m, r, map[string]any{"team_ids": intsToAny(teamStages[stageID])}); err != nil {
					return fmt.Errorf("odooserver: seed: stage %d teams: %w", stageID, err)
				}
			}
		}
	}
	srv.syncSequences()
	return nil
}

func (srv *Server) loadSeedFile(path, canonical string, teamStages map[int][]int) error {
	s := srv.store
	oca := srv.opts.Flavour == FlavourOCA
	target := canonical
	if oca && ocaModel[canonical] != "" {
		target = ocaModel[canonical]
	}
	m, t, err := s.model(target)
	if err != nil {
		if knownFields()[target] != nil || knownFields()[canonical] != nil {
			return nil // model absent from this version/flavour
		}
		return fmt.Errorf("odooserver: seed: %s: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("odooserver: seed: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		raw := strings.TrimSpace(sc.Text())
		if raw == "" {
			continue
		}
		fail := func(err error) error { return &SeedError{File: path, Line: line, Err: err} }
		v, err := decodeJSON([]byte(raw))
		if err != nil {
			return fail(err)
		}
		vals, ok := v.(map[string]any)
		if !ok {
			return fail(errors.New("line is not a JSON object"))
		}
		id, ok := asInt(vals["id"])
		if !ok || id <= 0 {
			return fail(errors.New(`missing or invalid "id"`))
		}
		delete(vals, "id")
		projected := map[string]any{}
		for k, val := range vals {
			name := k
			if oca {
				if rn := ocaField[canonical][k]; rn != "" {
					name = rn
				}
			}
			switch {
			case oca && canonical == "helpdesk.team" && k == "stage_ids":
				for _, sid := range idList(val) {
					teamStages[sid] = append(teamStages[sid], id)
				}
				continue
			case oca && canonical == "helpdesk.ticket" && k == "ticket_ref":
				if n, err := strconv.Atoi(fmt.Sprint(val)); err == nil {
					val = fmt.Sprintf("HT%05d", n)
				}
			case oca && canonical == "helpdesk.stage" && k == "fold":
				// A folded Enterprise stage is a closed one; OCA has both flags.
				projected["closed"] = val
			}
			if m.has(name) {
				projected[name] = val
				continue
			}
			if !knownFields()[canonical][k] && !knownFields()[target][name] && !knownFields()[ocaModel[canonical]][k] {
				return fail(fmt.Errorf("unknown field %q for %s", k, canonical))
			}
		}
		if r := t.byID[id]; r != nil {
			err = srv.writeRecord(m, r, projected)
		} else {
			_, err = srv.insert(m, t, projected, id)
		}
		if err != nil {
			return fail(err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("odooserver: seed: %s: %w", path, err)
	}
	return nil
}

// syncSequences continues ticket numbering after the highest seeded one.
func (srv *Server) syncSequences() {
	s := srv.store
	m, t, _ := s.model("helpdesk.ticket")
	field, code, prefix := "ticket_ref", "helpdesk.ticket", ""
	if m.has("number") {
		field, code, prefix = "number", "helpdesk.ticket.sequence", "HT"
	}
	for _, r := range t.byID {
		ref, _ := r.get(m, field).(string)
		if n, err := strconv.Atoi(strings.TrimPrefix(ref, prefix)); err == nil && n > s.sequences[code] {
			s.sequences[code] = n
		}
	}
}

func sortedModelNames(ms map[string]*modelDef) []string {
	return slices.Sorted(maps.Keys(ms))
}

// SeedFiles lists the model files a seed directory may contain, in load order.
func SeedFiles() []string {
	out := make([]string, len(seedOrder))
	for i, m := range seedOrder {
		out[i] = m + ".jsonl"
	}
	return out
}
