package refserver

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/dataverse/batchwire"
)

// Actions inside $batch (execute-batch-operations-using-web-api.md: a
// batch holds any requests but other batches, a change set any but GET):
// an unbound action is routed like any operation, answered in order with
// its own status (204 No Content for CloseIncident, which returns
// nothing) or its own error payload, Content-ID echoed; with
// odata.continue-on-error a refused call does not stop the ones after it,
// without it the batch stops there and takes its status, and in a change
// set the refusal rolls back every call of the set (the Case Resolutions
// included) and is answered alone.
func TestBatchActions(t *testing.T) {
	e := newTestEnv(t, Options{})
	acc := e.createID("accounts", map[string]any{"name": "Batch actions"})
	var ids []string
	for i := range 8 {
		ids = append(ids, e.createID("incidents", map[string]any{"title": fmt.Sprint("batch action ", i), "customerid_account@odata.bind": "/accounts(" + acc + ")"}))
	}
	closeOp := func(id, subject, contentID string) batchwire.Request {
		r := op("POST", "CloseIncident", map[string]any{"IncidentResolution": map[string]any{"subject": subject, "incidentid@odata.bind": "/incidents(" + id + ")"}, "Status": 5}, contentID)
		r.Header = batchwire.Header{{Name: "Content-Type", Value: "application/json"}}
		return r
	}
	state := func(id string) any {
		return mustStatus(t, e.do("GET", "incidents("+id+")?$select=statecode", nil), http.StatusOK).json(t)["statecode"]
	}
	resolutions := func(id string) int {
		return len(mustStatus(t, e.do("GET", "incidentresolutions?$select=subject&$filter=_incidentid_value eq "+id, nil), http.StatusOK).values(t))
	}
	// isError checks an inner error response: the status, Dataverse's
	// payload with the code, and the headers the documented example shows.
	isError := func(what string, r batchwire.Response, status int, code string) {
		t.Helper()
		if r.StatusCode != status {
			t.Fatalf("%s: status %d, want %d: %s", what, r.StatusCode, status, r.Body)
		}
		if got, _ := partError(t, r); got != code {
			t.Errorf("%s: code %s, want %s", what, got, code)
		}
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || r.Header.Get("REQ_ID") == "" || r.Header.Get("OData-Version") != "4.0" {
			t.Errorf("%s: headers %v", what, r.Header)
		}
	}
	isDone := func(what string, r batchwire.Response) {
		t.Helper()
		if r.StatusCode != http.StatusNoContent || len(r.Body) != 0 || r.Header.Get("Content-Type") != "" {
			t.Errorf("%s: %d %v %s, want 204 No Content and no body", what, r.StatusCode, r.Header, r.Body)
		}
	}

	t.Run("IndependentWithContinueOnError", func(t *testing.T) {
		res := e.batch([]batchwire.Part{
			single(closeOp(ids[0], "done", "")),
			single(closeOp(ids[0], "done again", "")),
			single(closeOp(ids[1], strings.Repeat("x", 201), "")),
			single(closeOp(ids[2], "done", "")),
		}, "Prefer: odata.continue-on-error")
		if res.status != http.StatusOK || res.header.Get("Preference-Applied") != "odata.continue-on-error" || len(res.parts) != 4 {
			t.Fatalf("status %d, %d parts: %s", res.status, len(res.parts), res.raw)
		}
		isDone("first close", *res.parts[0].Response)
		isError("second close of the same case", *res.parts[1].Response, http.StatusBadRequest, codeClosedRecord)
		isError("resolution subject too long", *res.parts[2].Response, http.StatusBadRequest, codeValidation)
		isDone("close after the refusals", *res.parts[3].Response)
		for i, want := range []float64{1, 0, 1} {
			if got := state(ids[i]); got != want {
				t.Errorf("case %d in state %v, want %v", i, got, want)
			}
		}
		if n := resolutions(ids[0]) + resolutions(ids[1]); n != 1 {
			t.Errorf("%d Case Resolutions for the first two cases, want the one of the close that ran", n)
		}
	})

	t.Run("StopsAtTheFirstRefusalByDefault", func(t *testing.T) {
		res := e.batch([]batchwire.Part{
			single(closeOp(ids[3], "done", "")),
			single(closeOp(ids[3], "done again", "")),
			single(closeOp(ids[4], "done", "")),
		})
		if res.status != http.StatusBadRequest || len(res.parts) != 2 {
			t.Fatalf("status %d, %d parts, want the refusal's 400 after two answers: %s", res.status, len(res.parts), res.raw)
		}
		isDone("first close", *res.parts[0].Response)
		isError("refused close", *res.parts[1].Response, http.StatusBadRequest, codeClosedRecord)
		if got := state(ids[4]); got != float64(0) {
			t.Errorf("the call after the refusal ran: case in state %v", got)
		}
	})

	t.Run("ChangeSet", func(t *testing.T) {
		res := e.batch([]batchwire.Part{{ChangeSet: []batchwire.Request{closeOp(ids[4], "done", "1"), closeOp(ids[5], "done", "2")}}})
		if res.status != http.StatusOK || len(res.parts) != 1 || len(res.parts[0].ChangeSet) != 2 {
			t.Fatalf("status %d: %s", res.status, res.raw)
		}
		for i, r := range res.parts[0].ChangeSet {
			isDone(fmt.Sprint("change set call ", i), r)
			if r.ContentID != fmt.Sprint(i+1) {
				t.Errorf("change set call %d: Content-ID %q", i, r.ContentID)
			}
		}
		// A refused call rolls the whole change set back, the resolution
		// the first call recorded included, and is answered alone.
		res = e.batch([]batchwire.Part{{ChangeSet: []batchwire.Request{closeOp(ids[6], "rolled back", "1"), closeOp(ids[5], "refused", "2")}}})
		if res.status != http.StatusBadRequest || len(res.parts) != 1 || res.parts[0].IsChangeSet() {
			t.Fatalf("status %d, parts %+v: %s", res.status, res.parts, res.raw)
		}
		isError("refused call of a change set", *res.parts[0].Response, http.StatusBadRequest, codeClosedRecord)
		if id := res.parts[0].Response.ContentID; id != "2" {
			t.Errorf("refusal answered with Content-ID %q, want the refused call's 2", id)
		}
		if got, n := state(ids[6]), resolutions(ids[6]); got != float64(0) || n != 0 {
			t.Errorf("rolled-back close left the case in state %v with %d resolutions, want active with none", got, n)
		}
	})
}
