package distribute

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// inflightServer counts the requests running at once per bearer token
// and answers with x-ms-dop-hint.
type inflightServer struct {
	mu       sync.Mutex
	now, max map[string]int
	// all and maxAll count the requests of every token at once.
	all, maxAll int
	hint        string
}

func (s *inflightServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	who := r.Header.Get("Authorization")
	s.mu.Lock()
	s.now[who]++
	s.max[who] = max(s.max[who], s.now[who])
	s.all++
	s.maxAll = max(s.maxAll, s.all)
	s.mu.Unlock()
	time.Sleep(15 * time.Millisecond)
	s.mu.Lock()
	s.now[who]--
	s.all--
	s.mu.Unlock()
	w.Header().Set("x-ms-dop-hint", s.hint)
	io.WriteString(w, "{}")
}

// TestSlotsBoundEachUserAcrossWorkers: three "workers" (each with its own
// connection pool, as separate processes have) send requests for two
// application users, 8 at a time per worker and user; the server never
// sees more requests of one user at once than the x-ms-dop-hint it
// announced, whatever the number of workers, and each user gets the
// whole of its own budget.
func TestSlotsBoundEachUserAcrossWorkers(t *testing.T) {
	url := testDatabase(t)
	ctx := context.Background()
	srv := &inflightServer{now: map[string]int{}, max: map[string]int{}, hint: "3"}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	users := []string{"app1", "app2"}
	// The hint is learned from the first response; send one first so
	// every worker knows it before the storm.
	var slots [][]*Slots
	for range 3 {
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		var per []*Slots
		for _, u := range users {
			s := NewSlots(pool, hs.URL, u, nil)
			send(t, s, hs.URL, u)
			per = append(per, s)
		}
		slots = append(slots, per)
	}
	srv.mu.Lock()
	clear(srv.max)
	srv.mu.Unlock()
	var wg sync.WaitGroup
	for _, per := range slots {
		for i, s := range per {
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 6 {
						send(t, s, hs.URL, users[i])
					}
				}()
			}
		}
	}
	wg.Wait()
	for _, u := range users {
		if got := srv.max["Bearer "+u]; got != 3 {
			t.Errorf("%s: at most %d requests at once, want exactly the hint 3", u, got)
		}
	}
	waited := int64(0)
	for _, per := range slots {
		for _, s := range per {
			waited += s.Stats().Waited
			if s.Stats().Held != 0 {
				t.Errorf("slots still held: %+v", s.Stats())
			}
		}
	}
	if waited == 0 {
		t.Error("no request ever waited for a slot: the bound was not exercised")
	}
}

func send(t *testing.T, s *Slots, base, user string) {
	req, _ := http.NewRequest(http.MethodGet, base+"/x", nil)
	req.Header.Set("Authorization", "Bearer "+user)
	resp, err := s.RoundTrip(req)
	if err != nil {
		t.Error(err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// TestSlotsOfADeadWorkerAreFreed: a worker that dies holding slots (its
// connections drop) leaves them to the others at once.
func TestSlotsOfADeadWorkerAreFreed(t *testing.T) {
	url := testDatabase(t)
	ctx := context.Background()
	dead, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	a := NewSlots(dead, "https://org.example", "app1", nil)
	a.hint.Store(2)
	var releases []func()
	for range 2 {
		r, _, err := a.acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, r)
	}
	live, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	b := NewSlots(live, "https://org.example", "app1", nil)
	b.hint.Store(2)
	held, err := heldLocks(ctx, live, []int32{b.key})
	if err != nil {
		t.Fatal(err)
	}
	if held[b.key] != (userLoad{Slots: 2}) {
		t.Fatalf("pg_locks shows %+v, want 2 slots held", held[b.key])
	}
	got := make(chan error, 1)
	go func() {
		r, _, err := b.acquire(ctx)
		if err == nil {
			r()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("a third request got a slot while both were held (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	// The worker dies: its backends end without releasing anything, as
	// when PostgreSQL finds the socket of a killed process closed.
	if _, err := live.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 2 AND granted AND classid::int4 = $1`, a.key); err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	defer func() {
		for _, r := range releases {
			r()
		}
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the dead worker's slots were not freed")
	}
}

// TestSlotsPauseEveryWorker: a 429 with Retry-After given to one worker
// holds the user's requests on every worker until it has passed, so the
// others do not lengthen the block.
func TestSlotsPauseEveryWorker(t *testing.T) {
	url := testDatabase(t)
	ctx := context.Background()
	var mu sync.Mutex
	first := true
	var times []time.Time
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("x-ms-dop-hint", "2")
		if first {
			first = false
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		times = append(times, time.Now())
	}))
	defer hs.Close()
	var slots []*Slots
	for range 2 {
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		slots = append(slots, NewSlots(pool, hs.URL, "app1", nil))
	}
	start := time.Now()
	send(t, slots[0], hs.URL, "app1") // 429, Retry-After 2
	time.Sleep(300 * time.Millisecond)
	send(t, slots[1], hs.URL, "app1") // another worker: must wait
	if len(times) != 1 || times[0].Sub(start) < 1900*time.Millisecond {
		t.Fatalf("the other worker's request reached the server %v after the 429, before its Retry-After", times[0].Sub(start))
	}
	if slots[0].Stats().Pauses != 1 {
		t.Errorf("pauses %+v", slots[0].Stats())
	}
}

// TestSlotsLendAcrossUsers: three "workers" send requests of app1 only,
// 8 at a time each, while app1 and app2 form a Lenders group. The server
// sees more requests at once than one user's hint (app1's requests went
// out on app2's free slots, with app2's token), yet never more of one
// user at once than that user's hint; once app2 has work of its own,
// its own requests still find its slots.
func TestSlotsLendAcrossUsers(t *testing.T) {
	url := testDatabase(t)
	ctx := context.Background()
	srv := &inflightServer{now: map[string]int{}, max: map[string]int{}, hint: "3"}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	var firsts []*Slots
	for range 3 {
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		lenders := &Lenders{}
		var per []*Slots
		for _, u := range []string{"app1", "app2"} {
			s := NewSlots(pool, hs.URL, u, nil)
			lenders.Join(s, func(context.Context) (string, error) { return u, nil })
			send(t, s, hs.URL, u)
			per = append(per, s)
		}
		firsts = append(firsts, per[0])
	}
	srv.mu.Lock()
	clear(srv.max)
	srv.mu.Unlock()
	srv.maxAll = 0
	var wg sync.WaitGroup
	for _, s := range firsts {
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 6 {
					send(t, s, hs.URL, "app1")
				}
			}()
		}
	}
	wg.Wait()
	for _, u := range []string{"app1", "app2"} {
		if got := srv.max["Bearer "+u]; got > 3 {
			t.Errorf("%s: %d requests at once, over its hint 3", u, got)
		}
	}
	if srv.max["Bearer app2"] == 0 || srv.maxAll <= 3 {
		t.Errorf("app1 had at most %d requests out at once, %d of them as app2: nothing was lent", srv.maxAll, srv.max["Bearer app2"])
	}
	var borrowed, lent int64
	for _, s := range firsts {
		borrowed += s.Stats().Borrowed
	}
	for _, s := range firsts {
		for _, m := range s.lenders.members {
			lent += m.Stats().Lent
			if m.Stats().Held != 0 {
				t.Errorf("slots still held: %+v", m.Stats())
			}
		}
	}
	if borrowed == 0 || borrowed != lent {
		t.Errorf("borrowed %d, lent %d: want equal and above zero", borrowed, lent)
	}
}

// TestPickUserSpreadsUnits: units started together on two workers are
// spread evenly over the application users, whatever their turn in the
// round robin says, and a user whose unit ends is the next one chosen.
func TestPickUserSpreadsUnits(t *testing.T) {
	url := testDatabase(t)
	ctx := context.Background()
	var workers []*Worker
	for range 2 {
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		workers = append(workers, &Worker{pool: pool})
	}
	env := fmt.Sprintf("https://pick-%d.example", time.Now().UnixNano())
	users := []AppUser{{Name: "app1"}, {Name: "app2"}, {Name: "app3"}}
	type pick struct {
		user string
		end  func()
	}
	picks := make([]pick, 6)
	var wg sync.WaitGroup
	for i := range picks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every unit's turn names app1 first.
			u, end, err := workers[i%2].pickUser(ctx, Unit{Env: env, Users: users, Seq: 0}, int64(1000+i))
			if err != nil {
				t.Error(err)
				return
			}
			picks[i] = pick{u.Name, end}
		}()
	}
	wg.Wait()
	count := map[string]int{}
	for _, p := range picks {
		count[p.user]++
	}
	if count["app1"] != 2 || count["app2"] != 2 || count["app3"] != 2 {
		t.Fatalf("units per user %v, want 2 each", count)
	}
	var freed string
	for i, p := range picks {
		if p.user == "app3" {
			p.end()
			picks[i].end = func() {}
			freed = p.user
			break
		}
	}
	u, end, err := workers[0].pickUser(ctx, Unit{Env: env, Users: users, Seq: 0}, 2000)
	if err != nil {
		t.Fatal(err)
	}
	end()
	if u.Name != freed {
		t.Errorf("after a unit of %s ended the next unit got %s", freed, u.Name)
	}
	for _, p := range picks {
		p.end()
	}
}
