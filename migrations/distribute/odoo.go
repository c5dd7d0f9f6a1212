package distribute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/dvsync/dvsync/mapping/odoodv"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/odoojob"
	"github.com/dvsync/dvsync/migrations/pgstore"
	"github.com/dvsync/dvsync/odoo"
)

// DefaultUnitSize is the number of source ids per unit of a step.
const DefaultUnitSize = 2000

// MigrateOptions configure MigrateOdoo.
type MigrateOptions struct {
	Options
	// State is the postgres:// URL of the shared state store.
	State string
	// Config is the coordinator's own view of the migration: its Odoo and
	// Dataverse clients prepare the job and count the baselines, and its
	// Store must be the state store at State. DryRun is refused.
	Config odoojob.Config
	// Odoo tells the workers how to reach Odoo; Env which environment to
	// write; Users as whom (DefaultUser when empty).
	Odoo  OdooConn
	Env   string
	Users []AppUser
	// Map is the map file and its users map (ReadMapFiles).
	Map MapFiles
	// UnitSize is the number of source ids per unit (DefaultUnitSize).
	UnitSize int
	// Poll is how often the units are looked at (DefaultPoll).
	Poll time.Duration
	// Notice receives one line per failed attempt of a unit.
	Notice func(string)
}

// distRun identifies the distributed run of a job in progress.
type distRun struct {
	ID      string    `json:"id"`
	Started time.Time `json:"started"`
}

// Names of the job values a coordinator keeps in the state store.
const (
	valueRun  = "distribute:run"
	valuePlan = "distribute:plan"
)

// span is an id range of a step: From ≤ id < To (To 0: no bound).
type span struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// MapFiles are a map file and the users map it names, as a unit carries
// them to the workers.
type MapFiles struct {
	// Map is the map file's text (empty: the default map).
	Map string `json:"map,omitempty"`
	// UsersName is users.map_file as the map names it (relative to the
	// map file); Users the file's text.
	UsersName string `json:"users_name,omitempty"`
	Users     string `json:"users,omitempty"`
}

// ReadMapFiles reads a map file (none: the default map) and the users map
// it names.
func ReadMapFiles(path string) (MapFiles, error) {
	if path == "" {
		return MapFiles{}, nil
	}
	m, err := odoodv.LoadMap(path)
	if err != nil {
		return MapFiles{}, err
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return MapFiles{}, err
	}
	f := MapFiles{Map: string(text)}
	if name := m.Users.MapFile; name != "" {
		if filepath.IsAbs(name) || !filepath.IsLocal(name) {
			return MapFiles{}, fmt.Errorf("the map file names users.map_file %s: a distributed migration carries it to the workers only as a path below the map file's folder", name)
		}
		users, err := os.ReadFile(filepath.Join(filepath.Dir(path), name))
		if err != nil {
			return MapFiles{}, err
		}
		f.UsersName, f.Users = name, string(users)
	}
	return f, nil
}

// load parses the map on a worker: through a private folder when it names
// a users map, so the map file's own loader resolves it.
func (f MapFiles) load() (*odoodv.Map, error) {
	if f.UsersName == "" {
		return odoodv.ParseMap([]byte(f.Map))
	}
	dir, err := os.MkdirTemp("", "dvsync-map-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	users := filepath.Join(dir, f.UsersName)
	if err := os.MkdirAll(filepath.Dir(users), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(users, []byte(f.Users), 0o600); err != nil {
		return nil, err
	}
	mapFile := filepath.Join(dir, "map.yaml")
	if err := os.WriteFile(mapFile, []byte(f.Map), 0o600); err != nil {
		return nil, err
	}
	return odoodv.LoadMap(mapFile)
}

// MigrateOdoo runs the migration of an Odoo helpdesk on the workers: it
// prepares the job, counts the baselines, splits every step into id
// ranges, enqueues the ranges of each step once the steps it depends on
// are done, waits, and returns the summary, whose counts are the units'
// counts added up. Progress is reported as the units commit. Run again
// after an interruption (of the coordinator or of workers), it resumes:
// the same distributed run, the same units, each from its checkpoint.
func MigrateOdoo(ctx context.Context, o MigrateOptions) (*migrations.Summary, *odoojob.Prepared, error) {
	cfg := o.Config
	switch {
	case cfg.DryRun:
		return nil, nil, errors.New("distribute: a dry run plans in one process; leave out --distribute")
	case cfg.Store == nil || !pgstore.IsURL(o.State):
		return nil, nil, errors.New("distribute: --distribute needs the shared state store: --state postgres://…")
	}
	p, err := odoojob.Prepare(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Fresh {
		// Before the run takes the job's lock, which Clear respects. The
		// plan and the distributed run are values of the job: cleared too.
		if err := cfg.Store.Clear(ctx, p.Job.Name); err != nil {
			return nil, p, err
		}
	}
	if err := odoojob.RecordBaselines(ctx, p, cfg.Store); err != nil {
		return nil, p, err
	}
	steps := p.Job.Steps
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = s.Name
	}
	// The coordinator's run holds the job's lock: no other coordinator
	// and no single-process run of the job while this one waits.
	runID, err := cfg.Store.BeginRun(ctx, p.Job.Name, names)
	if err != nil {
		return nil, p, err
	}
	sum := &migrations.Summary{Job: p.Job.Name, RunID: runID, Started: time.Now(), Status: migrations.StatusRunning}
	for _, n := range names {
		sum.Steps = append(sum.Steps, migrations.StepSummary{Step: n, Status: migrations.StatusPending, Total: -1})
	}
	var units []Unit
	err = migrateOdoo(ctx, o, p, steps, sum, &units)
	sum.Ended = time.Now()
	switch {
	case err == nil:
		sum.Status = migrations.StatusSucceeded
	case ctx.Err() != nil:
		sum.Status = migrations.StatusCancelled
		sum.Error = err.Error()
	default:
		sum.Status = migrations.StatusFailed
		sum.Error = err.Error()
	}
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if rerr := reportRecords(ectx, cfg, p.Job.Name, units, sum); rerr != nil && err == nil {
		err = rerr
	}
	for _, s := range sum.Steps {
		// The coordinator's run journals the units' counts added up.
		if s.Counts != (migrations.Counts{}) {
			if cerr := cfg.Store.Commit(ectx, migrations.Commit{Job: p.Job.Name, Step: s.Step, RunID: runID, Counts: s.Counts}); cerr != nil && err == nil {
				err = cerr
			}
		}
		if serr := cfg.Store.SetStepStatus(ectx, runID, s.Step, s.Status); serr != nil && err == nil {
			err = serr
		}
	}
	if eerr := cfg.Store.EndRun(ectx, runID, sum.Status, sum.Error); eerr != nil && err == nil {
		err = eerr
	}
	return sum, p, err
}

// reportRecords gives the summary what a single-process run's has: the
// skipped and rejected records of every step grouped by reason, and one
// line each in the coordinator's skips and rejects files. The workers
// keep them in the shared state store, committed with the counts; only
// the records of this distributed run's slices are reported, so the
// groups and the files add up to the counts.
func reportRecords(ctx context.Context, cfg odoojob.Config, job string, units []Unit, sum *migrations.Summary) error {
	runs := map[string]bool{}
	for _, u := range units {
		rs, err := cfg.Store.Runs(ctx, journalName(u.Job, u.Name(), u.Run))
		if err != nil {
			return err
		}
		for _, r := range rs {
			runs[r.ID] = true
		}
	}
	examples := migrations.DefaultExamples
	var skips, rejects *json.Encoder
	if cfg.Skips != nil {
		skips = json.NewEncoder(cfg.Skips)
		skips.SetEscapeHTML(false)
	}
	if cfg.Rejects != nil {
		rejects = json.NewEncoder(cfg.Rejects)
		rejects.SetEscapeHTML(false)
	}
	now := time.Now().UTC()
	for i := range sum.Steps {
		s := &sum.Steps[i]
		if s.Counts.Skipped > 0 {
			g := migrations.NewReasonGroups(examples)
			for r, err := range cfg.Store.Skips(ctx, job, s.Step) {
				if err != nil {
					return err
				}
				if !runs[r.RunID] {
					continue
				}
				g.AddSkip(r)
				if skips != nil {
					if err := skips.Encode(migrations.SkipLine{Time: now, RunID: r.RunID, Job: job, Step: s.Step, SourceID: r.SourceID, Reason: r.Reason}); err != nil {
						return fmt.Errorf("writing skips: %w", err)
					}
				}
			}
			s.Skips = g.Sorted()
		}
		if s.Counts.Rejected > 0 {
			g := migrations.NewReasonGroups(examples)
			for r, err := range cfg.Store.Rejects(ctx, job, s.Step) {
				if err != nil {
					return err
				}
				if !runs[r.RunID] {
					continue
				}
				g.AddReject(r)
				if rejects != nil {
					if err := rejects.Encode(migrations.RejectLine{Time: now, RunID: r.RunID, Job: job, Step: s.Step, SourceID: r.SourceID, Reason: r.Reason, Error: r.Error}); err != nil {
						return fmt.Errorf("writing rejects: %w", err)
					}
				}
			}
			s.Rejects = g.Sorted()
		}
	}
	return nil
}

func migrateOdoo(ctx context.Context, o MigrateOptions, p *odoojob.Prepared, steps []*migrations.Step, sum *migrations.Summary, all *[]Unit) error {
	store := o.Config.Store
	job := p.Job.Name
	run, err := currentRun(ctx, store, job, sum.RunID, o.Config.Restart)
	if err != nil {
		return err
	}
	plan, err := planRanges(ctx, store, job, p.Reader.Client(), steps, o.UnitSize, o.Config.Restart)
	if err != nil {
		return err
	}
	// A state that belongs to another environment must not drive the
	// workers: the coordinator checks it once, with the samples of every
	// unit's checkpoint, before any unit is enqueued.
	if err := confirmTarget(ctx, store, p, steps, plan); err != nil {
		return err
	}
	if o.Config.Restart {
		var parts []string
		for _, s := range steps {
			for _, sp := range plan[s.Name] {
				parts = append(parts, Unit{Type: UnitOdooRange, Step: s.Name, From: sp.From, To: sp.To}.Name())
			}
		}
		if err := store.ResetCheckpoints(ctx, job, parts...); err != nil {
			return err
		}
	}
	c, err := newCoordinator(ctx, o.State, o.Options, o.Notice)
	if err != nil {
		return err
	}
	defer c.close()

	users := o.Users
	if len(users) == 0 {
		users = []AppUser{DefaultUser}
	}
	odooConn := o.Odoo
	odooConn.DB = o.Config.Database
	byStep := map[string]*stepUnits{}
	seq := 0
	for _, s := range steps {
		su := &stepUnits{}
		for _, sp := range plan[s.Name] {
			su.units = append(su.units, Unit{Run: run.ID, Type: UnitOdooRange, Job: job, Step: s.Name, From: sp.From, To: sp.To, Seq: seq,
				Env: o.Env, Users: users, Odoo: &odooConn, Map: o.Map, BatchSize: o.Config.BatchSize, Concurrency: o.Config.Concurrency})
			seq++
		}
		byStep[s.Name] = su
		*all = append(*all, su.units...)
	}
	poll := o.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	done := map[string]bool{}
	started := map[string]time.Time{}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		// Enqueue the units of every step whose dependencies are done.
		for i, s := range steps {
			su := byStep[s.Name]
			ready := !slices.ContainsFunc(s.DependsOn, func(d string) bool { return !done[d] })
			if su.ids != nil || !ready {
				continue
			}
			if su.ids, err = c.enqueue(ctx, su.units); err != nil {
				return err
			}
			started[s.Name] = time.Now()
			sum.Steps[i].Status = migrations.StatusRunning
			o.progress(sum.Steps[i])
		}
		all := true
		for i, s := range steps {
			if done[s.Name] {
				continue
			}
			all = false
			su := byStep[s.Name]
			if su.ids == nil {
				continue
			}
			finished, err := su.refresh(ctx, c, store)
			ss := &sum.Steps[i]
			changed := ss.Counts != su.counts
			ss.Counts = su.counts
			if err != nil {
				ss.Status = migrations.StatusFailed
				ss.Duration = time.Since(started[s.Name])
				o.progress(*ss)
				return &migrations.StepError{Step: s.Name, Err: err}
			}
			if finished {
				if err := ss.Counts.Reconcile(s.Name); err != nil {
					return err
				}
				done[s.Name] = true
				ss.Status = migrations.StatusSucceeded
				ss.Duration = time.Since(started[s.Name])
				changed = true
			}
			if changed {
				o.progress(*ss)
			}
		}
		if all {
			return store.SetValue(ctx, job, valueRun, "")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ctx.Err(), errWorkersGoOn)
		case <-tick.C:
		}
	}
}

func (o MigrateOptions) progress(s migrations.StepSummary) {
	if p := o.Config.Progress; p != nil {
		p(migrations.StepProgress{Step: s.Step, Status: s.Status, Counts: s.Counts, Total: int64(s.Total)})
	}
}

// stepUnits are the units of one step and what they have done.
type stepUnits struct {
	units []Unit
	ids   []int64
	// final holds the counts of finished units; counts those of all.
	final  map[int]migrations.Counts
	counts migrations.Counts
}

// refresh reads the units' states and counts; it reports whether every
// unit is done, or the first that failed for good.
func (su *stepUnits) refresh(ctx context.Context, c *coordinator, store migrations.Store) (bool, error) {
	jobs, err := c.jobs(ctx, su.ids)
	if err != nil {
		return false, err
	}
	if su.final == nil {
		su.final = map[int]migrations.Counts{}
	}
	var total migrations.Counts
	finished := true
	for i, u := range su.units {
		if n, ok := su.final[i]; ok {
			total.Add(n)
			continue
		}
		j := jobs[su.ids[i]]
		state, err := c.check(u, j)
		if err != nil {
			return false, err
		}
		if j.AttemptedAt == nil {
			// No worker took the unit yet: nothing of it is journalled.
			finished = false
			continue
		}
		n, err := unitCounts(ctx, store, u)
		if err != nil {
			return false, err
		}
		total.Add(n)
		if state == unitDone {
			su.final[i] = n
		} else {
			finished = false
		}
	}
	su.counts = total
	return finished, nil
}

// unitCounts adds up the counts of every slice a unit's workers committed
// in this distributed run.
func unitCounts(ctx context.Context, store migrations.Store, u Unit) (migrations.Counts, error) {
	runs, err := store.Runs(ctx, journalName(u.Job, u.Name(), u.Run))
	if err != nil {
		return migrations.Counts{}, err
	}
	var n migrations.Counts
	for _, r := range runs {
		for _, s := range r.Steps {
			n.Add(s.Counts)
		}
	}
	return n, nil
}

// currentRun returns the distributed run in progress for the job, or
// starts one named after the coordinator's run.
func currentRun(ctx context.Context, store migrations.Store, job, runID string, restart bool) (distRun, error) {
	v, ok, err := store.Value(ctx, job, valueRun)
	if err != nil {
		return distRun{}, err
	}
	var r distRun
	if ok && v != "" && !restart {
		if err := json.Unmarshal([]byte(v), &r); err == nil && r.ID != "" {
			return r, nil
		}
	}
	r = distRun{ID: runID, Started: time.Now().UTC()}
	b, _ := json.Marshal(r)
	return r, store.SetValue(ctx, job, valueRun, string(b))
}

// confirmTarget runs migrations.ConfirmTarget over the job as the workers
// see it: each unit's checkpoint (by its partition name) beside each
// step's own (a single-process run of the same job), so a reset or other
// environment is found before the first unit is enqueued, and the target
// is recorded on the first run.
func confirmTarget(ctx context.Context, store migrations.Store, p *odoojob.Prepared, steps []*migrations.Step, plan map[string][]span) error {
	view := &migrations.Job{Name: p.Job.Name}
	for _, s := range steps {
		view.Steps = append(view.Steps, &migrations.Step{Name: s.Name, Target: s.Target})
		for _, sp := range plan[s.Name] {
			view.Steps = append(view.Steps, &migrations.Step{Name: Unit{Type: UnitOdooRange, Step: s.Name, From: sp.From, To: sp.To}.Name(), Target: s.Target})
		}
	}
	return migrations.ConfirmTarget(ctx, view, store, migrations.ConfirmOptions{Probe: true, Record: true})
}

// planRanges splits every step into id ranges of about size ids, keeping
// the ranges of an earlier plan (the checkpoints of units are by range,
// so a new plan would read everything again) unless restart.
func planRanges(ctx context.Context, store migrations.Store, job string, oc *odoo.Client, steps []*migrations.Step, size int, restart bool) (map[string][]span, error) {
	if size <= 0 {
		size = DefaultUnitSize
	}
	plan := map[string][]span{}
	if v, ok, err := store.Value(ctx, job, valuePlan); err != nil {
		return nil, err
	} else if ok && v != "" && !restart {
		if err := json.Unmarshal([]byte(v), &plan); err != nil {
			return nil, fmt.Errorf("the stored plan of job %s is damaged (%v); run with --restart", job, err)
		}
	}
	changed := false
	for _, s := range steps {
		if len(plan[s.Name]) > 0 {
			continue
		}
		spans, err := splitStep(ctx, oc, s, size)
		if err != nil {
			return nil, fmt.Errorf("splitting step %s: %w", s.Name, err)
		}
		plan[s.Name] = spans
		changed = true
	}
	if changed {
		b, _ := json.Marshal(plan)
		if err := store.SetValue(ctx, job, valuePlan, string(b)); err != nil {
			return nil, err
		}
	}
	return plan, nil
}

// splitStep cuts a step's ids into ranges of size ids: the step's first
// record names its Odoo model, whose ids (archived included) are read
// alone, in order. The ranges cover every id from 0 up, the last without
// an upper bound, so records created meanwhile fall in a range.
func splitStep(ctx context.Context, oc *odoo.Client, s *migrations.Step, size int) ([]span, error) {
	whole := []span{{From: 0, To: 0}}
	var model string
	for rec, err := range s.Source.Records(ctx, "") {
		if err != nil {
			return nil, err
		}
		model, _ = rec.Data["model"].(string)
		break
	}
	if model == "" {
		return whole, nil
	}
	ids, err := oc.Search(ctx, model, odoo.Query{Domain: odoo.Domain{}, Order: "id", Context: odoo.Context{}.WithArchived()})
	if err != nil {
		return nil, err
	}
	if len(ids) <= size {
		return whole, nil
	}
	slices.Sort(ids)
	var out []span
	from := int64(0)
	for i := size; i < len(ids); i += size {
		to := int64(ids[i])
		out = append(out, span{From: from, To: to})
		from = to
	}
	return append(out, span{From: from}), nil
}
