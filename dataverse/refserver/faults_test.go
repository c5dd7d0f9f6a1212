package refserver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseFaults(t *testing.T) {
	f, err := ParseFaults("seed=42,503=0.02,500=0.01,reset=0.01,slow=0.02:2s")
	if err != nil {
		t.Fatal(err)
	}
	want := Faults{Seed: 42, Unavailable: 0.02, Internal: 0.01, Reset: 0.01, Slow: 0.02, SlowDelay: 2 * time.Second}
	if *f != want {
		t.Fatalf("got %+v", *f)
	}
	if rt, err := ParseFaults(f.String()); err != nil || *rt != *f {
		t.Fatalf("String does not round-trip: %v %v", rt, err)
	}
	if f, err := ParseFaults("503=0.5"); err != nil || f.Seed != 1 || f.SlowDelay != 2*time.Second {
		t.Fatalf("defaults: %+v %v", f, err)
	}
	if f, err := ParseFaults("off"); err != nil || f != nil {
		t.Fatalf("off: %+v %v", f, err)
	}
	for _, bad := range []string{"503=2", "503=-0.1", "500=x", "seed=-1", "slow=0.1:forever", "reset=0.6,503=0.6", "drop=0.1", "503"} {
		if _, err := ParseFaults(bad); err == nil {
			t.Errorf("ParseFaults(%q) accepted", bad)
		}
	}
}

// faultRun sends n creates with known ids and returns what the client saw
// for each: the status, or "reset" when the connection dropped.
func faultRun(t *testing.T, spec string, n int) (*testEnv, []string, []string) {
	t.Helper()
	f, err := ParseFaults(spec)
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEnv(t, Options{Faults: f})
	client := &http.Client{Transport: &http.Transport{}} // no connection reuse across tests
	var outcomes, ids []string
	for i := range n {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1)
		ids = append(ids, id)
		req, _ := http.NewRequest("POST", e.api+"accounts", strings.NewReader(`{"name":"f","accountid":"`+id+`"}`))
		req.Header.Set("Authorization", "Bearer test-token")
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			outcomes = append(outcomes, "reset")
			continue
		}
		body, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case rerr != nil:
			outcomes = append(outcomes, "reset")
		case resp.StatusCode >= 500:
			code, _ := response{status: resp.StatusCode, body: body}.errorPayload(t)
			if code != "0x80040216" {
				t.Fatalf("injected %d has code %q", resp.StatusCode, code)
			}
			outcomes = append(outcomes, fmt.Sprint(resp.StatusCode))
		default:
			outcomes = append(outcomes, fmt.Sprint(resp.StatusCode))
		}
	}
	return e, outcomes, ids
}

func TestFaultsReplayAndNeverCorrupt(t *testing.T) {
	const spec = "seed=7,503=0.2,500=0.2,reset=0.2,slow=0.2:1ms"
	e, first, ids := faultRun(t, spec, 40)
	_, again, _ := faultRun(t, spec, 40)
	if strings.Join(first, ",") != strings.Join(again, ",") {
		t.Fatalf("same seed, different faults:\n%v\n%v", first, again)
	}
	_, other, _ := faultRun(t, "seed=8,503=0.2,500=0.2,reset=0.2,slow=0.2:1ms", 40)
	if strings.Join(first, ",") == strings.Join(other, ",") {
		t.Fatal("a different seed gave the same faults")
	}
	seen := map[string]int{}
	acct, _ := e.srv.reg.Table("account")
	for i, o := range first {
		seen[o]++
		rec, err := e.srv.store.get(context.Background(), e.srv.store.db, acct, ids[i])
		if err != nil {
			t.Fatal(err)
		}
		applied := rec != nil
		// 503/500 are decided before the request runs; a reset or a slow
		// response comes after it committed.
		if wantApplied := o == "204" || o == "reset"; applied != wantApplied {
			t.Fatalf("request %d: outcome %s, applied=%v", i, o, applied)
		}
	}
	for _, k := range []string{"503", "500", "reset", "204"} {
		if seen[k] == 0 {
			t.Fatalf("seed 7 produced no %s in 40 requests: %v", k, seen)
		}
	}
}

func TestResetDropsResponseMidBody(t *testing.T) {
	e := newTestEnv(t, Options{Faults: &Faults{Seed: 1, Reset: 1}})
	req, _ := http.NewRequest("GET", e.api+"WhoAmI", nil)
	req.Header.Set("Authorization", "Bearer test-token")
	resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
	if err != nil {
		t.Fatalf("headers should arrive before the drop: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("body read completely (%q); want the connection to drop mid-body", body)
	}
	if len(body) == 0 || bytes.HasSuffix(body, []byte("}")) {
		t.Fatalf("want part of the body before the drop, got %q", body)
	}
}

func TestParseLatency(t *testing.T) {
	cases := map[string]Latency{
		"50ms+0.5ms/record": {PerRequest: 50 * time.Millisecond, PerRecord: 500 * time.Microsecond},
		"50ms":              {PerRequest: 50 * time.Millisecond},
		"2ms/record":        {PerRecord: 2 * time.Millisecond},
	}
	for spec, want := range cases {
		l, err := ParseLatency(spec)
		if err != nil || *l != want {
			t.Errorf("ParseLatency(%q) = %+v, %v", spec, l, err)
		}
		if rt, err := ParseLatency(l.String()); err != nil || *rt != want {
			t.Errorf("String of %q does not round-trip: %v %v", spec, rt, err)
		}
	}
	if l, _ := ParseLatency("off"); l != nil {
		t.Error("off is not nil")
	}
	for _, bad := range []string{"fast", "-5ms", "5ms/row", "5ms+x/record"} {
		if _, err := ParseLatency(bad); err == nil {
			t.Errorf("ParseLatency(%q) accepted", bad)
		}
	}
	if d := (Latency{PerRequest: 50 * time.Millisecond, PerRecord: time.Millisecond}).Delay(1000); d != 1050*time.Millisecond {
		t.Errorf("Delay(1000) = %v", d)
	}
}

// The per-record cost applies to records written and returned, after the
// write committed, and a client that gives up ends the wait.
func TestLatencyPerRecordAfterCommit(t *testing.T) {
	e := newTestEnv(t, Options{Latency: &Latency{PerRecord: time.Hour}})
	send := func(method, path, body string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, method, e.api+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer test-token")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := send("GET", "WhoAmI", ""); err != nil {
		t.Fatalf("a request touching no records waits nothing: %v", err)
	}
	const id = "00000000-0000-4000-8000-00000000abcd"
	if err := send("POST", "accounts", `{"name":"slow","accountid":"`+id+`"}`); err == nil {
		t.Fatal("a write of one record should wait an hour")
	}
	// The handler may still be committing on a busy machine when the client
	// gives up; the record must appear without the hour passing.
	acct, _ := e.srv.reg.Table("account")
	for deadline := time.Now().Add(10 * time.Second); ; {
		rec, err := e.srv.store.get(context.Background(), e.srv.store.db, acct, id)
		if err != nil {
			t.Fatal(err)
		}
		if rec != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the write must be committed before the wait")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := send("GET", "accounts("+id+")", ""); err == nil {
		t.Fatal("a read returning one record should wait an hour")
	}
}
