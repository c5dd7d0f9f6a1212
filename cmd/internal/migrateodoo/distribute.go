package migrateodoo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/distribute"
	"github.com/dvsync/dvsync/migrations/odoojob"
	"github.com/dvsync/dvsync/migrations/statestore"
)

// distOptions are the flags of a distributed migration.
type distOptions struct {
	on       bool
	appUsers string
	unitSize int
	// river names the queue's and the state's schemas; the zero value,
	// the defaults, is what the command uses (tests set their own).
	river distribute.Options
}

func (d *distOptions) addFlags(f *pflag.FlagSet) {
	f.BoolVar(&d.on, "distribute", false, "split the steps into id ranges worked by dvsync worker processes and wait for them (needs --state postgres://…)")
	f.StringVar(&d.appUsers, "app-users", "", "with --distribute: YAML file of the application users workers write as, each with its own budget (see dvsync worker --help)")
	f.IntVar(&d.unitSize, "unit-size", distribute.DefaultUnitSize, "with --distribute: source ids per unit")
}

// checkDistributed refuses the flags a distributed run cannot honour,
// before anything is opened or written.
func (o *options) checkDistributed() error {
	switch {
	case o.dryRun:
		return exitcode.UsageError(errors.New("--dry-run plans in one process: leave out --distribute"))
	case !statestore.IsShared(o.state):
		return exitcode.UsageError(fmt.Errorf("--distribute needs the shared state store: --state postgres://… (not %s)", o.state))
	case o.dist.unitSize <= 0:
		return exitcode.UsageError(errors.New("--unit-size must be positive"))
	case o.warnings != "":
		return exitcode.UsageError(errors.New("--warnings would stay empty with --distribute: its workers report mapping warnings only as counts; leave it out (a single-process run, or --dry-run, lists each one)"))
	}
	return nil
}

// runDistributed enqueues the migration's units for the workers, shows
// their combined progress, and prints the summary and writes the report
// (migration.html) as a single-process run does, with the same exit
// codes. The rejects and skips files are the coordinator's, from the
// shared state; warnings are counted, not listed (the workers do not
// report them).
func runDistributed(ctx context.Context, streams *output.Streams, o *options, cfg odoojob.Config, files odoojob.Files) error {
	d := o.dist
	var users []distribute.AppUser
	if d.appUsers != "" {
		var err error
		if users, err = distribute.LoadAppUsers(d.appUsers); err != nil {
			return exitcode.UsageError(err)
		}
	}
	mf, err := distribute.ReadMapFiles(o.mapFile)
	if err != nil {
		return exitcode.UsageError(err)
	}
	prog := newDistProgress(streams, o.json || o.quiet)
	cfg.Progress = prog.update
	sum, _, err := distribute.MigrateOdoo(ctx, distribute.MigrateOptions{
		Options: d.river, State: o.state, Config: cfg, Env: cfg.Dataverse.ServiceRoot(), Users: users, Map: mf, UnitSize: d.unitSize,
		Odoo:   distribute.OdooConn{URL: o.odoo.URL, User: o.odoo.User, Protocol: o.odoo.Protocol, PageSize: o.odoo.PageSize, KeyFile: o.odoo.KeyFile},
		Notice: prog.notice,
	})
	if exit := exitcode.TargetMismatch(err, exitcode.OtherEnvironment{State: statestore.Describe(o.state), Spared: "no unit was enqueued",
		Choices: []string{"start over with --fresh", "point --env at the environment this state belongs to"}}); exit != nil {
		return exit
	}
	if sum == nil {
		return exitcode.Of(err)
	}
	res := odoojob.NewResult(sum, files)
	res.Source, res.Target = cfg.Endpoints()
	if perr := printResult(streams.Out, res, o.json); perr != nil && err == nil {
		err = perr
	}
	// The report of what happened, even of a run that stopped.
	if rerr := writeReport(streams.Out, o, res); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		return exitcode.Of(fmt.Errorf("%w (run the same command again to resume)", err))
	}
	if t := sum.Total(); t.Rejected > 0 {
		return exitcode.Finished(t.Rejected, fmt.Sprintf("finished with %d rejected records; see %s", t.Rejected, files.Rejects))
	}
	return nil
}

// distProgress prints the units' combined progress: one line per step as
// it starts and ends, and every few seconds the figures of the steps in
// progress (several run at once on the workers, so one bar per step
// would fight for the line).
type distProgress struct {
	streams *output.Streams
	off     bool
	last    time.Time
	running map[string]migrations.StepProgress
	order   []string
}

func newDistProgress(streams *output.Streams, quiet bool) *distProgress {
	return &distProgress{streams: streams, off: quiet, running: map[string]migrations.StepProgress{}}
}

func (p *distProgress) update(s migrations.StepProgress) {
	if p.off {
		return
	}
	w := p.streams.Err
	switch s.Status {
	case migrations.StatusRunning:
		if _, ok := p.running[s.Step]; !ok {
			p.order = append(p.order, s.Step)
			fmt.Fprintf(w, "%s: units enqueued\n", s.Step)
		}
		p.running[s.Step] = s
	default:
		delete(p.running, s.Step)
		fmt.Fprintf(w, "%s: %s, %s read\n", s.Step, s.Status, output.Count(s.Counts.Read))
	}
	if time.Since(p.last) < 5*time.Second || len(p.running) == 0 {
		return
	}
	p.last = time.Now()
	line := "in progress:"
	for _, name := range p.order {
		if r, ok := p.running[name]; ok {
			line += fmt.Sprintf(" %s %s read,", name, output.Count(r.Counts.Read))
		}
	}
	fmt.Fprintln(w, line[:len(line)-1])
}

// notice reports a unit's failed attempt (River retries it), JSON or not:
// stderr is for such news.
func (p *distProgress) notice(msg string) { fmt.Fprintln(p.streams.Err, msg) }
