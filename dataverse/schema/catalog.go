package schema

import "sync"

// A tableSet contributes tables and N:N relationships to the default catalog.
// Each catalog_*.go file registers its set from init, so that independent
// areas (Customer Service, USD, Copilot Service workspace) stay in their own
// files.
type tableSet func() ([]*Table, []ManyToMany)

var (
	tableSetsMu sync.Mutex
	tableSets   []tableSet
)

func registerTableSet(s tableSet) {
	tableSetsMu.Lock()
	defer tableSetsMu.Unlock()
	tableSets = append(tableSets, s)
}

// Default returns a new registry holding every table dvsync knows: the
// Customer Service tables, the Unified Service Desk tables and the Copilot
// Service workspace tables. Each call returns fresh definitions, so callers
// may add tables without affecting others.
func Default() *Registry {
	tableSetsMu.Lock()
	sets := append([]tableSet(nil), tableSets...)
	tableSetsMu.Unlock()
	r := NewRegistry()
	for _, set := range sets {
		tables, rels := set()
		for _, t := range tables {
			if err := r.Register(t); err != nil {
				// The built-in catalog is covered by tests; an invalid entry is
				// a programming error, not a runtime condition.
				panic(err)
			}
		}
		for _, rel := range rels {
			r.RegisterManyToMany(rel)
		}
	}
	return r
}
