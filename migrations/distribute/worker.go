package distribute

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/odoojob"
	"github.com/dvsync/dvsync/migrations/pgstore"
	"github.com/dvsync/dvsync/migrations/syncjob"
	"github.com/dvsync/dvsync/odoo"
)

// DefaultRequests is WorkerOptions.Requests by default.
const DefaultRequests = 16

// WorkerOptions configure a Worker. State is required.
type WorkerOptions struct {
	Options
	// State is the postgres:// URL of the shared state store; River's
	// tables live in the same database.
	State string
	// Concurrency is the number of units the worker works at once
	// (default 2). Requests to Dataverse are bounded by the application
	// users' slots whatever it is.
	Concurrency int
	// Requests bounds the requests this worker has in flight or waiting
	// for a slot, over all application users (DefaultRequests); each holds
	// a connection to the state database.
	Requests int
	// Transport is the base HTTP transport to Dataverse and Odoo (tests);
	// nil means the default.
	Transport http.RoundTripper
	// OnUnit, when set, is told when the worker starts and ends a slice
	// of a unit (for the worker's log).
	OnUnit func(UnitEvent)
}

// UnitEvent is a slice of a unit starting or ending on a worker.
type UnitEvent struct {
	Unit    Unit
	Attempt int
	User    string
	// Ended is false when the slice starts.
	Ended bool
	// Outcome: done, continued (the slice ended, the unit goes on), retry
	// (it failed and River retries it), busy (another worker holds it).
	Outcome string
	Read    int64
	Err     error
}

// Worker processes units from the queue.
type Worker struct {
	o        WorkerOptions
	pool     *pgxpool.Pool // River
	slotPool *pgxpool.Pool
	store    *pgstore.Store
	river    *river.Client[pgx.Tx]

	mu    sync.Mutex
	users map[string]*userConn
	// lenders groups the application users of each environment, which
	// lend each other free request slots.
	lenders  map[string]*Lenders
	odoo     map[string]*odoo.Client
	prepared map[string]*odoojob.Prepared
	sync     *syncjob.Store
	// stopping is cancelled when the worker stops: units in progress end
	// their slices at once.
	stopping context.Context
	stop     context.CancelFunc
}

// userConn is one application user's client and slots in this process.
type userConn struct {
	client *dataverse.Client
	slots  *Slots
}

// NewWorker connects to the state database, applies River's migrations
// and the state store's, and prepares a worker; Run starts it.
func NewWorker(ctx context.Context, o WorkerOptions) (*Worker, error) {
	if !pgstore.IsURL(o.State) {
		return nil, errors.New("distribute: a worker needs the shared state store: --state postgres://…")
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 2
	}
	if o.Requests <= 0 {
		o.Requests = DefaultRequests
	}
	w := &Worker{o: o, users: map[string]*userConn{}, lenders: map[string]*Lenders{}, odoo: map[string]*odoo.Client{}, prepared: map[string]*odoojob.Prepared{}}
	w.stopping, w.stop = context.WithCancel(context.Background())
	var err error
	// A unit in progress holds a connection (its user assignment); River
	// needs a few of its own.
	if w.pool, err = openPool(ctx, o.State, int32(2*o.Concurrency+4)); err != nil {
		return nil, err
	}
	if err := Migrate(ctx, w.pool, o.Options); err != nil {
		w.pool.Close()
		return nil, err
	}
	// Every request in flight or waiting in PostgreSQL for a slot holds a
	// connection; more wait for one in the pool.
	if w.slotPool, err = openPool(ctx, o.State, int32(o.Requests)); err != nil {
		w.pool.Close()
		return nil, err
	}
	if w.store, err = pgstore.Open(ctx, o.State, pgstore.Options{Schema: o.StateSchema, MaxConns: int32(2*o.Concurrency + 2)}); err != nil {
		w.Close()
		return nil, err
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &unitWorker{w: w}); err != nil {
		w.Close()
		return nil, err
	}
	if w.river, err = newClient(w.pool, o.Options, workers, o.Concurrency); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// Run works units until ctx is cancelled, then stops: units in progress
// get until the end of their slice (or River's soft-stop timeout) to
// commit and hand themselves back to the queue.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.river.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	<-ctx.Done()
	w.stop()
	sctx, cancel := context.WithTimeout(context.Background(), w.o.jobTimeout()+5*time.Second)
	defer cancel()
	return w.river.Stop(sctx)
}

// Close releases the worker's connections.
func (w *Worker) Close() error {
	w.stop()
	if w.sync != nil {
		w.sync.Close()
	}
	if w.store != nil {
		w.store.Close()
	}
	if w.slotPool != nil {
		w.slotPool.Close()
	}
	if w.pool != nil {
		w.pool.Close()
	}
	return nil
}

// UserStats are the requests one application user sent from this worker.
type UserStats struct {
	Slots SlotStats
	// Limiter holds the 429s the user met (Throttled) and its hint.
	Limiter dataverse.LimiterStats
}

// Stats returns, by application user name, the requests this worker sent.
func (w *Worker) Stats() map[string]UserStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]UserStats{}
	for k, u := range w.users {
		_, name, _ := strings.Cut(k, "\x00")
		out[name] = UserStats{Slots: u.slots.Stats(), Limiter: u.client.Limiter().Stats()}
	}
	return out
}

// unitWorker is the River worker of dvsync's units.
type unitWorker struct {
	river.WorkerDefaults[Unit]
	w *Worker
}

// Work ignores River's job timeout: a slice stops reading when its time
// is up (an Odoo range at the next record, a sync table at the next page)
// and then lets the writes in flight finish and commit; cancelling them
// instead, when a busy user's slots make them wait, would throw the
// slice's work away again and again. The timeout still tells River's
// rescuer when a unit is stuck (a worker that died); a live worker slow
// to end its slice may see its unit rescued, and the other worker then
// finds the unit's lock held and comes back later. Stopping the worker
// does cancel the work.
func (u *unitWorker) Work(jobCtx context.Context, job *river.Job[Unit]) error {
	w := u.w
	ctx, cancel := context.WithCancel(context.WithoutCancel(jobCtx))
	defer cancel()
	defer context.AfterFunc(w.stopping, cancel)()
	user, assigned, err := w.pickUser(ctx, job.Args, job.ID)
	if err != nil {
		return err
	}
	defer assigned()
	// Every user of the unit joins its environment's lenders now, so the
	// unit's requests may go out as any of them with a free slot. A user
	// whose credential is wrong is left out here and fails the units
	// given to it, with the error.
	for _, us := range job.Args.Users {
		w.user(job.Args.Env, us)
	}
	ev := UnitEvent{Unit: job.Args, Attempt: job.Attempt, User: user.Name}
	if w.o.OnUnit != nil {
		w.o.OnUnit(ev)
	}
	var read int64
	var cut bool
	switch job.Args.Type {
	case UnitOdooRange:
		read, cut, err = w.workOdoo(ctx, job.Args, user)
	case UnitSyncTable:
		read, cut, err = w.workSync(ctx, job, user)
	case UnitSyncOdoo:
		read, err = w.workSyncOdoo(ctx, job, user)
	default:
		err = river.JobCancel(fmt.Errorf("unknown unit type %q (a newer dvsync enqueued it?)", job.Args.Type))
	}
	ev.Ended, ev.Read, ev.Err = true, read, err
	var running *migrations.JobRunningError
	var mismatch *migrations.TargetMismatchError
	switch {
	case errors.As(err, &mismatch):
		// The environment was reset or replaced under the run: no other
		// worker or attempt will find it otherwise.
		ev.Outcome, err = "retry", river.JobCancel(err)
	case err == nil && cut:
		ev.Outcome, err = "continued", river.JobSnooze(0)
	case err == nil:
		ev.Outcome = "done"
	case errors.As(err, &running):
		// Another worker still holds this unit (River rescued it from a
		// worker that was slow, not dead): come back after its slice.
		ev.Outcome, err = "busy", river.JobSnooze(w.o.slice())
	case ctx.Err() != nil:
		// Stopped (shutdown, or the slice overran River's JobTimeout):
		// what was committed stays, and the unit is available again.
		ev.Outcome, err = "continued", river.JobSnooze(0)
	default:
		ev.Outcome = "retry"
	}
	if w.o.OnUnit != nil {
		w.o.OnUnit(ev)
	}
	return err
}

// pickUser gives the unit an application user for this slice: the one
// with the fewest units in progress on every worker, then the fewest
// slots held, then the unit's turn in a round robin. A unit in progress
// holds a shared advisory lock (user, unit) for as long as the slice
// runs, so PostgreSQL's lock table counts them across workers and frees
// those of a dead worker; the choice itself is made under a session lock
// so that workers starting together do not all see the same counts. The
// returned function ends the assignment.
func (w *Worker) pickUser(ctx context.Context, u Unit, id int64) (AppUser, func(), error) {
	users := u.Users
	if len(users) == 0 {
		return DefaultUser, func() {}, nil
	}
	if len(users) == 1 {
		return users[0], func() {}, nil
	}
	keys := make([]int32, len(users))
	for i, us := range users {
		keys[i] = NewSlots(nil, u.Env, us.Name, nil).key
	}
	conn, err := w.pool.Acquire(ctx)
	if err != nil {
		return AppUser{}, nil, fmt.Errorf("reading the request slots: %w", err)
	}
	fail := func(err error) (AppUser, func(), error) {
		conn.Release()
		return AppUser{}, nil, fmt.Errorf("reading the request slots: %w", err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fail(err)
	}
	const pickLock = `hashtextextended('dvsync-pick-user', 0)`
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_lock(`+pickLock+`)`); err != nil {
		tx.Rollback(context.WithoutCancel(ctx))
		return fail(err)
	}
	unlock := func() { conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+pickLock+`)`) }
	held, err := heldLocks(ctx, tx, keys)
	if err != nil {
		unlock()
		tx.Rollback(context.WithoutCancel(ctx))
		return fail(err)
	}
	best := -1
	for i := range users {
		j := (u.Seq + i) % len(users)
		if best < 0 || held[keys[j]].less(held[keys[best]]) {
			best = j
		}
	}
	_, err = tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1, $2)`, keys[best], unitLockID(id))
	unlock()
	if err != nil {
		tx.Rollback(context.WithoutCancel(ctx))
		return fail(err)
	}
	return users[best], func() {
		tx.Rollback(context.Background())
		conn.Release()
	}, nil
}

// user returns this process's client of an application user, with its
// slots, built on first use.
func (w *Worker) user(env string, u AppUser) (*userConn, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := env + "\x00" + u.Name
	if c := w.users[key]; c != nil {
		return c, nil
	}
	cred, err := u.Credential(env)
	if err != nil {
		return nil, err
	}
	base := w.o.Transport
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = dataverse.DocumentedConcurrencyLimit
		base = t
	}
	slots := NewSlots(w.slotPool, env, u.Name, base)
	// One limiter per user: its x-ms-dop-hint, its 429s and Retry-After
	// are that user's, not the process's.
	client, err := dataverse.NewClient(env, cred, &dataverse.ClientOptions{Transport: slots, Limiter: dataverse.NewLimiter(dataverse.LimiterOptions{})})
	if err != nil {
		return nil, err
	}
	lenders := w.lenders[env]
	if lenders == nil {
		lenders = &Lenders{}
		w.lenders[env] = lenders
	}
	lenders.Join(slots, client.Token)
	c := &userConn{client: client, slots: slots}
	w.users[key] = c
	return c, nil
}

func (w *Worker) odooClient(ctx context.Context, c *OdooConn) (*odoo.Client, error) {
	if c == nil {
		return nil, errors.New("the unit names no Odoo database")
	}
	key, _, err := secretOf(c)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	id := c.URL + "\x00" + c.DB + "\x00" + c.User
	oc := w.odoo[id]
	w.mu.Unlock()
	if oc != nil {
		return oc, nil
	}
	protocol, err := odoo.ParseProtocol(c.Protocol)
	if err != nil {
		return nil, err
	}
	var hc *http.Client
	if w.o.Transport != nil {
		hc = &http.Client{Transport: w.o.Transport}
	}
	oc, err = odoo.New(ctx, odoo.Options{URL: c.URL, Database: c.DB, Login: c.User, APIKey: key, Protocol: protocol, PageSize: c.PageSize, HTTPClient: hc})
	if err != nil {
		return nil, fmt.Errorf("odoo at %s: %w", c.URL, err)
	}
	w.mu.Lock()
	w.odoo[id] = oc
	w.mu.Unlock()
	return oc, nil
}

// secretOf reads the Odoo API key the connection names.
func secretOf(c *OdooConn) (string, string, error) {
	env, file := c.KeyEnv, c.KeyFile
	if env == "" && file == "" {
		env = "ODOO_API_KEY"
	}
	v, from, err := secret(env, file)
	if err != nil {
		return "", "", fmt.Errorf("the Odoo API key: %w", err)
	}
	return v, from, nil
}

// maxPrepared bounds the migrations a worker keeps prepared.
const maxPrepared = 16

func mapKey(u Unit, user string) string {
	h := sha256.Sum256([]byte(u.Map.Map + "\x00" + u.Map.UsersName + "\x00" + u.Map.Users))
	return u.Run + "\x00" + u.Job + "\x00" + u.Env + "\x00" + user + "\x00" + hex.EncodeToString(h[:8])
}

// prepared returns the migration as this worker runs it for a user:
// prepared once per distributed run (reference tables read, mapping
// built).
func (w *Worker) preparedJob(ctx context.Context, u Unit, user AppUser) (*odoojob.Prepared, error) {
	key := mapKey(u, user.Name)
	w.mu.Lock()
	p := w.prepared[key]
	w.mu.Unlock()
	if p != nil {
		return p, nil
	}
	uc, err := w.user(u.Env, user)
	if err != nil {
		return nil, err
	}
	oc, err := w.odooClient(ctx, u.Odoo)
	if err != nil {
		return nil, err
	}
	m, err := u.Map.load()
	if err != nil {
		return nil, err
	}
	p, err = odoojob.Prepare(ctx, odoojob.Config{Odoo: oc, Database: u.Odoo.DB, Dataverse: uc.client, Map: m, Store: w.store, PageSize: u.Odoo.PageSize})
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	if len(w.prepared) >= maxPrepared {
		// Runs come and go for as long as the worker lives; a run whose
		// units come back is prepared again.
		clear(w.prepared)
	}
	w.prepared[key] = p
	w.mu.Unlock()
	return p, nil
}

// workOdoo works one slice of an id range of a migration step.
func (w *Worker) workOdoo(ctx context.Context, u Unit, user AppUser) (read int64, cut bool, err error) {
	p, err := w.preparedJob(ctx, u, user)
	if err != nil {
		return 0, false, err
	}
	if p.Job.Name != u.Job {
		return 0, false, river.JobCancel(fmt.Errorf("the unit is of job %s but its Odoo database makes %s", u.Job, p.Job.Name))
	}
	rs := &rangeSource{from: u.From, to: u.To, deadline: time.Now().Add(w.o.slice())}
	job := &migrations.Job{Name: p.Job.Name}
	for _, s := range p.Job.Steps {
		c := *s
		if c.Name == u.Step {
			rs.src = s.Source
			c.Source = rs
		}
		job.Steps = append(job.Steps, &c)
	}
	if rs.src == nil {
		return 0, false, river.JobCancel(fmt.Errorf("job %s has no step %s", u.Job, u.Step))
	}
	ps := &partitionStore{Store: w.store, step: u.Step, part: u.Name(), journal: journalName(u.Job, u.Name(), u.Run), truncated: rs.cut.Load}
	sum, err := migrations.Run(ctx, job, migrations.RunOptions{Store: ps, Steps: []string{u.Step}, BatchSize: u.BatchSize,
		Concurrency: u.Concurrency, Logger: w.o.logger(), TargetProbed: true})
	if sum != nil {
		read = sum.Total().Read
	}
	return read, rs.cut.Load(), err
}

// StateWhere names the state database for messages.
func (w *Worker) StateWhere() string { return pgstore.Redact(w.o.State) }
