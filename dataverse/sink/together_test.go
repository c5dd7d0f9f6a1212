package sink_test

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/sink"
	"github.com/dvsync/dvsync/migrations"
)

// requestLog keeps the requests a client sends (query unescaped, $batch
// bodies kept), so a test can tell how a batch's work went out.
type requestLog struct {
	mu   sync.Mutex
	reqs []loggedRequest
}

type loggedRequest struct{ method, path, query, body string }

func (l *requestLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		q, _ := url.QueryUnescape(r.URL.RawQuery)
		l.mu.Lock()
		l.reqs = append(l.reqs, loggedRequest{r.Method, r.URL.Path, q, string(body)})
		l.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// count returns the requests since the last count that match f, and
// forgets them all.
func (l *requestLog) count(f func(loggedRequest) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.reqs {
		if f(r) {
			n++
		}
	}
	return n
}

func (l *requestLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = nil
}

func isBatch(r loggedRequest) bool {
	return r.method == http.MethodPost && strings.HasSuffix(r.path, "/$batch")
}

// A batch's moves to states go out together: the PATCHes of statecode and
// statuscode as one $batch (two when closed cases must be reactivated
// first) and the CloseIncident actions as another, never one request per
// record. Every record ends in its state.
func TestStateMovesOfABatchGoTogether(t *testing.T) {
	var log requestLog
	c := refServer(t, "off", log.wrap)
	s := sink.New(c, nil)
	ctx := t.Context()
	acc := migrations.TargetRecord{Table: "account", Key: migrations.Key{ID: migrations.DeterministicID("together", "account", "1")}, Fields: map[string]any{"name": "Together"}}
	resolved := func(subject string) *migrations.State {
		return &migrations.State{Code: 1, Reason: 5, Close: &migrations.Resolution{Subject: subject}}
	}
	cancelled := func() *migrations.State { return &migrations.State{Code: 2, Reason: 6} }
	batch := []migrations.TargetRecord{acc}
	for i := range 12 {
		st := resolved("Fixed")
		if i%3 == 0 {
			st = cancelled()
		}
		batch = append(batch, migrations.TargetRecord{Table: "incident",
			Key:    migrations.Key{ID: migrations.DeterministicID("together", "incident", fmt.Sprint(i))},
			Fields: map[string]any{"title": fmt.Sprintf("case %d", i), "customerid_account@odata.bind": "/accounts(" + acc.Key.ID + ")"},
			State:  st})
	}
	stateBatches := func(r loggedRequest) bool { return isBatch(r) && strings.Contains(r.body, `"statecode"`) }
	statePatches := func(r loggedRequest) bool { return r.method == http.MethodPatch }
	closeBatches := func(r loggedRequest) bool { return isBatch(r) && strings.Contains(r.body, "/CloseIncident HTTP/1.1") }
	closesIn := func() int {
		log.mu.Lock()
		defer log.mu.Unlock()
		n := 0
		for _, r := range log.reqs {
			if closeBatches(r) {
				n += strings.Count(r.body, "POST /api/data/v9.2/CloseIncident HTTP/1.1")
			}
		}
		return n
	}
	closesAlone := func(r loggedRequest) bool { return strings.HasSuffix(r.path, "/CloseIncident") }
	check := func(what string, wantBatches, wantCloseBatches, wantCloses int) {
		t.Helper()
		res, err := s.Write(ctx, batch)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for i, r := range res {
			if r.Outcome == migrations.Rejected {
				t.Errorf("%s: %s rejected: %v", what, batch[i].Key, r.Err)
			}
		}
		if n := log.count(stateBatches); n != wantBatches {
			t.Errorf("%s: %d $batch requests set states, want %d", what, n, wantBatches)
		}
		if n := log.count(statePatches); n != 0 {
			t.Errorf("%s: %d PATCH requests of their own, want none", what, n)
		}
		if n := log.count(closesAlone); n != 0 {
			t.Errorf("%s: %d CloseIncident requests of their own, want none", what, n)
		}
		if n, calls := log.count(closeBatches), closesIn(); n != wantCloseBatches || calls != wantCloses {
			t.Errorf("%s: %d $batch requests carrying %d CloseIncident calls, want %d carrying %d", what, n, calls, wantCloseBatches, wantCloses)
		}
		log.reset()
		for _, r := range batch[1:] {
			rows, err := s.Lookup(ctx, "incident", r.Key)
			if err != nil || len(rows) != 1 {
				t.Fatalf("%s: %s: %d rows, %v", what, r.Key, len(rows), err)
			}
			if d := s.Compare(ctx, r, rows[0]); len(d) > 0 {
				t.Errorf("%s: %s: %+v", what, r.Key, d)
			}
		}
		log.reset()
	}
	check("first write", 1, 1, 8)

	// Every case closed the other way: the resolved ones are reactivated
	// (one $batch) then cancelled (another), the cancelled ones
	// reactivated with them then resolved.
	for i := range batch[1:] {
		r := &batch[i+1]
		if r.State.Code == 1 {
			r.State = cancelled()
		} else {
			r.State = resolved("Fixed after all")
		}
	}
	check("moved the other way", 2, 1, 4)

	// Again: every case in its state, nothing sent.
	check("again", 0, 0, 0)
}

// N:N links are read once per batch, not once per record: a write reads
// the batch's links with one query (expanding the relationship) before
// making the missing ones; verify's comparisons of a batch LookupBatch
// read need no read of their own once the sink knows the table's
// relationships, and one for the whole batch when it does not.
func TestLinksReadOncePerBatch(t *testing.T) {
	var log requestLog
	c := refServer(t, "off", log.wrap)
	ctx := t.Context()
	uid, _, err := c.WhoAmI(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const rel = "teammembership_association"
	var batch []migrations.TargetRecord
	var keys []migrations.Key
	for i := range 6 {
		r := migrations.TargetRecord{Table: "team", Key: migrations.Key{ID: migrations.DeterministicID("together", "team", fmt.Sprint(i))},
			Fields: map[string]any{"name": fmt.Sprintf("Together team %d", i)},
			Links:  []migrations.Link{{Relationship: rel, Table: "systemuser", Key: migrations.Key{ID: uid}}}}
		batch = append(batch, r)
		keys = append(keys, r.Key)
	}
	perRecord := func(r loggedRequest) bool {
		return r.method == http.MethodGet && strings.HasSuffix(r.path, "/"+rel)
	}
	expanded := func(r loggedRequest) bool {
		return r.method == http.MethodGet && strings.Contains(r.query, "$expand="+rel)
	}
	associations := func(r loggedRequest) bool { return strings.HasSuffix(r.path, "/"+rel+"/$ref") }

	s := sink.New(c, nil)
	log.reset()
	for _, round := range []struct {
		what  string
		want  migrations.Outcome
		links int
	}{{"first write", migrations.Written, len(batch)}, {"second write", migrations.Unchanged, 0}} {
		res, err := s.Write(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if r.Outcome != round.want {
				t.Errorf("%s: team %d %s %v, want %s", round.what, i, r.Outcome, r.Err, round.want)
			}
		}
		if n, e, a := log.count(perRecord), log.count(expanded), log.count(associations); n != 0 || e != 1 || a != round.links {
			t.Errorf("%s: %d reads of one record's links, %d of the batch's, %d links made; want 0, 1, %d", round.what, n, e, a, round.links)
		}
		log.reset()
	}

	compareAll := func(what string, s *sink.Sink) {
		t.Helper()
		rows, err := s.LookupBatch(ctx, "team", keys)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			if len(r) != 1 {
				t.Fatalf("%s: team %d: %d rows", what, i, len(r))
			}
			if _, ok := r[0][rel]; ok {
				t.Errorf("%s: team %d read back with its expanded links among the columns", what, i)
			}
			if d := s.Compare(ctx, batch[i], r[0]); len(d) != 0 {
				t.Errorf("%s: team %d: %+v", what, i, d)
			}
		}
	}
	// The sink that wrote knows the relationship: it comes with the
	// records, in the one query LookupBatch sends.
	compareAll("verify by the writing sink", s)
	if n, all := log.count(perRecord), log.count(func(loggedRequest) bool { return true }); n != 0 || all != 1 {
		t.Errorf("verify by the writing sink: %d requests, %d reads of one record's links; want 1 and 0", all, n)
	}
	log.reset()
	// A new sink learns it at the first comparison, and reads the links
	// of the whole batch then.
	compareAll("verify by a new sink", sink.New(c, nil))
	if n, e := log.count(perRecord), log.count(expanded); n != 0 || e != 1 {
		t.Errorf("verify by a new sink: %d reads of one record's links, %d of the batch's; want 0 and 1", n, e)
	}
	log.reset()

	// What a read back found is forgotten once a write links a record
	// again: comparing it afterwards reads what is there now.
	team := batch[0]
	if err := c.Disassociate(ctx, "team", dataverse.ByID(uuid.MustParse(team.Key.ID)), rel, dataverse.ByID(uuid.MustParse(uid))); err != nil {
		t.Fatal(err)
	}
	rows, err := s.LookupBatch(ctx, "team", keys[:1])
	if err != nil || len(rows[0]) != 1 {
		t.Fatalf("lookup: %v, %v", rows, err)
	}
	if res, err := s.Write(ctx, batch[:1]); err != nil || res[0].Outcome != migrations.Updated {
		t.Fatalf("write of the unlinked team: %+v, %v; want updated", res, err)
	}
	again, err := s.Lookup(ctx, "team", team.Key)
	if err != nil || len(again) != 1 {
		t.Fatalf("lookup: %d rows, %v", len(again), err)
	}
	if d := s.Compare(ctx, team, again[0]); len(d) != 0 {
		t.Errorf("compare after the write linked the team again: %+v", d)
	}
}

// A closed case is read-only, so re-writing one is never sent: the batch's
// cases are read first (one query), and a closed case that holds what is
// written is unchanged, with no upsert refused (in a bulk message one
// refusal fails the whole message, which the client splits down to the
// case) and no read of its own. Here every case looks changed to the
// client, whose comparison cannot resolve an owner bound by e-mail.
func TestClosedCasesAreNotSentAgain(t *testing.T) {
	var log requestLog
	c := refServer(t, "off", log.wrap)
	s := sink.New(c, nil)
	ctx := t.Context()
	acc := migrations.TargetRecord{Table: "account", Key: migrations.Key{ID: migrations.DeterministicID("together", "account", "closed")}, Fields: map[string]any{"name": "Closed"}}
	batch := cases(12, acc)
	for _, r := range batch[1:] {
		r.Fields["ownerid@odata.bind"] = "/systemusers(internalemailaddress='" + refUserEmail + "')"
	}
	if res, err := s.Write(ctx, batch); err != nil {
		t.Fatal(err)
	} else {
		for i, r := range res {
			if r.Outcome == migrations.Rejected {
				t.Fatalf("%s rejected: %v", batch[i].Key, r.Err)
			}
		}
	}
	log.reset()
	res, err := s.Write(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Outcome != migrations.Unchanged {
			t.Errorf("%s %s: %s %v, want unchanged", batch[i].Table, batch[i].Key, r.Outcome, r.Err)
		}
	}
	sent := log.count(func(r loggedRequest) bool {
		return r.method != http.MethodGet && strings.Contains(r.path+r.body, "incident")
	})
	own := log.count(func(r loggedRequest) bool {
		return r.method == http.MethodGet && strings.Contains(r.path, "/incidents(")
	})
	if sent != 0 || own != 0 {
		t.Errorf("re-writing closed cases: %d requests sent cases, %d read one case; want none", sent, own)
	}
}

// Records addressed by alternate key alone that are re-written unchanged
// come back with their IDs (later steps bind to them) from the one read
// that found them unchanged, not from a read of their own.
func TestUnchangedRecordsKeepTheirIDsWithoutAnotherRead(t *testing.T) {
	var log requestLog
	c := refServer(t, "off", log.wrap)
	s := sink.New(c, nil)
	ctx := t.Context()
	var batch []migrations.TargetRecord
	for i := range 5 {
		batch = append(batch, migrations.TargetRecord{Table: "account",
			Key:    migrations.Key{Alternate: map[string]any{"accountnumber": fmt.Sprintf("UNCH-%d", i)}},
			Fields: map[string]any{"name": fmt.Sprintf("Unchanged %d", i)}})
	}
	first, err := s.Write(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	log.reset()
	again, err := s.Write(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range again {
		if r.Outcome != migrations.Unchanged || r.ID == "" || !strings.EqualFold(r.ID, first[i].ID) {
			t.Errorf("account %d: %+v, want unchanged with ID %s", i, r, first[i].ID)
		}
	}
	if n := log.count(func(loggedRequest) bool { return true }); n != 1 {
		t.Errorf("re-writing unchanged accounts: %d requests, want the one read", n)
	}
}

// A case the environment refuses to close, among several closed in one
// batch, is rejected alone and with Dataverse's reason: the batch's
// CloseIncident calls go out as one $batch of independent requests, so
// the refusal neither stops the calls after it nor rolls back the ones
// before it.
func TestRefusedCloseInsideABatchRejectsOnlyItsCase(t *testing.T) {
	var log requestLog
	c := refServer(t, "off", log.wrap)
	s := sink.New(c, nil)
	ctx := t.Context()
	acc := migrations.TargetRecord{Table: "account", Key: migrations.Key{ID: migrations.DeterministicID("together", "account", "refused")}, Fields: map[string]any{"name": "Refused"}}
	batch := []migrations.TargetRecord{acc}
	const bad = 4 // batch index of the refused case
	for i := range 7 {
		subject := fmt.Sprintf("Fixed %d", i)
		if i+1 == bad {
			subject = strings.Repeat("x", 201) // over the Case Resolution's 200
		}
		batch = append(batch, migrations.TargetRecord{Table: "incident",
			Key:    migrations.Key{ID: migrations.DeterministicID("together", "refused", fmt.Sprint(i))},
			Fields: map[string]any{"title": fmt.Sprintf("case %d", i), "customerid_account@odata.bind": "/accounts(" + acc.Key.ID + ")"},
			State:  &migrations.State{Code: 1, Reason: 5, Close: &migrations.Resolution{Subject: subject}}})
	}
	log.reset()
	res, err := s.Write(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if i == bad {
			if r.Outcome != migrations.Rejected || r.Err == nil || !strings.Contains(r.Err.Error(), dataverse.CodeValidation) ||
				!strings.Contains(r.Err.Error(), "CloseIncident") {
				t.Errorf("refused case: %s %v, want rejected with the CloseIncident validation error", r.Outcome, r.Err)
			}
			continue
		}
		if r.Outcome == migrations.Rejected {
			t.Errorf("%s %s rejected beside the refused case: %v", batch[i].Table, batch[i].Key, r.Err)
		}
	}
	closeBatches, calls, alone := 0, 0, 0
	log.mu.Lock()
	for _, r := range log.reqs {
		switch {
		case isBatch(r) && strings.Contains(r.body, "/CloseIncident HTTP/1.1"):
			closeBatches++
			calls += strings.Count(r.body, "/CloseIncident HTTP/1.1")
			if strings.Contains(r.body, "changeset_") {
				t.Errorf("CloseIncident calls sent in a change set")
			}
		case strings.HasSuffix(r.path, "/CloseIncident"):
			alone++
		}
	}
	log.mu.Unlock()
	if closeBatches != 1 || calls != 7 || alone != 0 {
		t.Errorf("%d $batch requests carried %d CloseIncident calls, %d went alone; want 1 carrying 7, none alone", closeBatches, calls, alone)
	}
	for i, r := range batch[1:] {
		rows, err := s.Lookup(ctx, "incident", r.Key)
		if err != nil || len(rows) != 1 {
			t.Fatalf("%s: %d rows, %v", r.Key, len(rows), err)
		}
		want := r
		if i+1 == bad {
			want.State = &migrations.State{Code: 0, Reason: 1}
		}
		if d := s.Compare(ctx, want, rows[0]); len(d) > 0 {
			t.Errorf("case %d: %+v", i, d)
		}
	}
}

// A batch with records to move to a state or link is read once before it
// is written (one In query expanding the links), and that read serves the
// whole write: re-writing it unchanged sends that one request and nothing
// else (no read before writing, of states or of links); a record that
// differs in its state alone is moved without its columns being sent, and
// one that differs in a column is written without another read.
func TestBatchWithStatesAndLinksIsReadOnce(t *testing.T) {
	var log requestLog
	c := refServer(t, "off", log.wrap)
	s := sink.New(c, nil)
	ctx := t.Context()
	uid, _, err := c.WhoAmI(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const rel = "teammembership_association"
	var teams []migrations.TargetRecord
	for i := range 4 {
		teams = append(teams, migrations.TargetRecord{Table: "team", Key: migrations.Key{ID: migrations.DeterministicID("once", "team", fmt.Sprint(i))},
			Fields: map[string]any{"name": fmt.Sprintf("Read once %d", i)},
			Links:  []migrations.Link{{Relationship: rel, Table: "systemuser", Key: migrations.Key{ID: uid}}}})
	}
	teams = append(teams, migrations.TargetRecord{Table: "team", Key: migrations.Key{ID: migrations.DeterministicID("once", "team", "plain")},
		Fields: map[string]any{"name": "Read once, no links"}})
	acc := migrations.TargetRecord{Table: "account", Key: migrations.Key{ID: migrations.DeterministicID("once", "account", "1")}, Fields: map[string]any{"name": "Read once"}}
	cs := cases(6, acc)
	write := func(what string, batch []migrations.TargetRecord) []migrations.WriteResult {
		t.Helper()
		res, err := s.Write(ctx, batch)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for i, r := range res {
			if r.Outcome == migrations.Rejected {
				t.Fatalf("%s: %s %s rejected: %v", what, batch[i].Table, batch[i].Key, r.Err)
			}
		}
		return res
	}
	write("first write of the teams", teams)
	write("first write of the cases", cs)

	for _, batch := range [][]migrations.TargetRecord{teams, cs[1:]} {
		log.reset()
		res := write("again", batch)
		for i, r := range res {
			if r.Outcome != migrations.Unchanged || !strings.EqualFold(r.ID, batch[i].Key.ID) {
				t.Errorf("%s %s again: %s %s, want unchanged with its ID", batch[i].Table, batch[i].Key, r.Outcome, r.ID)
			}
		}
		log.mu.Lock()
		reqs := slices.Clone(log.reqs)
		log.mu.Unlock()
		if len(reqs) != 1 || reqs[0].method != http.MethodGet {
			t.Errorf("re-writing unchanged %ss: %d requests %v, want the one read", batch[0].Table, len(reqs), reqs)
		}
	}

	// One case differs in its state alone, another in a column.
	moved, edited := cs[2], cs[3]
	moved.State = &migrations.State{Code: 0, Reason: 1}
	edited.Fields = maps.Clone(edited.Fields)
	edited.Fields["title"] = "case, edited"
	batch := []migrations.TargetRecord{cs[1], moved, edited}
	log.reset()
	res := write("a move and an edit", batch)
	if res[0].Outcome != migrations.Unchanged || res[1].Outcome != migrations.Updated || res[2].Outcome == migrations.Unchanged {
		t.Errorf("outcomes %s %s %s, want unchanged, updated, written", res[0].Outcome, res[1].Outcome, res[2].Outcome)
	}
	gets, sentMoved := 0, false
	log.mu.Lock()
	for _, r := range log.reqs {
		if r.method == http.MethodGet {
			gets++
		}
		if r.method != http.MethodGet && strings.Contains(r.body, `"title"`) && strings.Contains(r.body, moved.Key.ID) {
			sentMoved = true
		}
	}
	log.mu.Unlock()
	if gets != 1 || sentMoved {
		t.Errorf("%d reads (want the one before writing); columns of the case moved alone sent: %v", gets, sentMoved)
	}
	for _, r := range batch {
		rows, err := s.Lookup(ctx, r.Table, r.Key)
		if err != nil || len(rows) != 1 {
			t.Fatalf("%s: %d rows, %v", r.Key, len(rows), err)
		}
		if d := s.Compare(ctx, r, rows[0]); len(d) > 0 {
			t.Errorf("%s: %+v", r.Key, d)
		}
	}
}
