package odooserver

import (
	"slices"
	"testing"
	"time"
)

func TestSLALifecycle(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) // Monday, 10:00 in Brussels
	srv, err := New(Options{Version: 17, SeedDir: seedDir, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	run := func(c *call) any {
		t.Helper()
		out, err := srv.run(c)
		if err != nil {
			t.Fatalf("%s: %v", c.method, err)
		}
		return out
	}
	id := run(&call{model: "helpdesk.ticket", method: "create", args: map[string]any{"vals_list": map[string]any{
		"name": "Cannot print", "team_id": 1, "partner_id": 20, "priority": "0"}}}).(int)
	ticket := func() map[string]any {
		out := run(&call{model: "helpdesk.ticket", method: "read", ids: []int{id}, args: map[string]any{"fields": []any{"sla_ids", "sla_deadline", "sla_reached", "sla_reached_late", "sla_status_ids"}}})
		return out.([]any)[0].(*recordOut).toMap()
	}
	statuses := func() map[int]map[string]any {
		out := run(&call{model: "helpdesk.sla.status", method: "search_read", args: map[string]any{
			"domain": []any{[]any{"ticket_id", "=", id}}, "fields": []any{"sla_id", "deadline", "reached_datetime", "status", "exceeded_hours"}}})
		res := map[int]map[string]any{}
		for _, x := range out.([]any) {
			m := x.(*recordOut).toMap()
			res[m["sla_id"].([]any)[0].(int)] = m
		}
		return res
	}
	tk := ticket()
	if !slices.Equal(tk["sla_ids"].([]any), []any{1, 2}) || tk["sla_deadline"] != "2026-03-04 09:00:00" || tk["sla_reached"] != false {
		t.Fatalf("new ticket: %v", tk)
	}
	st := statuses()
	// 16 working hours on 8-hour days = 2 days, same time of day; 56 h = 7 days.
	if st[1]["deadline"] != "2026-03-04 09:00:00" || st[2]["deadline"] != "2026-03-11 09:00:00" || st[1]["status"] != "ongoing" {
		t.Fatalf("statuses: %v", st)
	}

	now = now.Add(3 * time.Hour)
	run(&call{model: "helpdesk.ticket", method: "write", ids: []int{id}, args: map[string]any{"vals": map[string]any{"stage_id": 2}}})
	st = statuses()
	if st[1]["status"] != "reached" || st[1]["reached_datetime"] != "2026-03-02 12:00:00" || st[2]["status"] != "ongoing" {
		t.Fatalf("after In Progress: %v", st)
	}
	if tk = ticket(); tk["sla_reached"] != true || tk["sla_deadline"] != "2026-03-11 09:00:00" {
		t.Fatalf("ticket after In Progress: %v", tk)
	}
	// Searching on the computed status works.
	n := run(&call{model: "helpdesk.sla.status", method: "search_count", args: map[string]any{"domain": []any{[]any{"ticket_id", "=", id}, []any{"status", "=", "reached"}}}})
	if n != 1 {
		t.Fatalf("reached statuses: %v", n)
	}

	// Back to New un-reaches; past the deadline the status fails.
	run(&call{model: "helpdesk.ticket", method: "write", ids: []int{id}, args: map[string]any{"vals": map[string]any{"stage_id": 1}}})
	now = time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC)
	if st = statuses(); st[1]["status"] != "failed" || st[1]["reached_datetime"] != false {
		t.Fatalf("after going back and waiting: %v", st)
	}

	// A priority change re-matches: the unreached policies go, Medium's comes.
	run(&call{model: "helpdesk.ticket", method: "write", ids: []int{id}, args: map[string]any{"vals": map[string]any{"priority": "1"}}})
	if tk = ticket(); !slices.Equal(tk["sla_ids"].([]any), []any{3}) {
		t.Fatalf("after priority change: %v", tk)
	}
	if st = statuses(); st[3]["deadline"] != "2026-03-03 09:00:00" {
		t.Fatalf("medium status: %v", st)
	}

	// Deleting the ticket deletes its statuses.
	run(&call{model: "helpdesk.ticket", method: "unlink", ids: []int{id}})
	if st = statuses(); len(st) != 0 {
		t.Fatalf("statuses left: %v", st)
	}
}

func TestSLAPartnerAndTagConditions(t *testing.T) {
	srv := seeded(t, 17, FlavourEnterprise)
	create := func(vals map[string]any) []any {
		t.Helper()
		out, err := srv.run(&call{model: "helpdesk.ticket", method: "create", args: map[string]any{"vals_list": vals}})
		if err != nil {
			t.Fatal(err)
		}
		rec, _ := srv.run(&call{model: "helpdesk.ticket", method: "read", ids: []int{out.(int)}, args: map[string]any{"fields": []any{"sla_ids"}}})
		return rec.([]any)[0].(*recordOut).toMap()["sla_ids"].([]any)
	}
	// VIP: 1 hour to start only for Brightwater/Cobalt & Finch and their contacts.
	if got := create(map[string]any{"name": "x", "team_id": 2, "partner_id": 23, "priority": "0"}); !slices.Equal(got, []any{6}) {
		t.Fatalf("contact of a listed company: %v", got)
	}
	if got := create(map[string]any{"name": "x", "team_id": 2, "partner_id": 20, "priority": "0"}); len(got) != 0 {
		t.Fatalf("unlisted partner: %v", got)
	}
	// High: needs tag Service or Repair.
	if got := create(map[string]any{"name": "x", "team_id": 1, "partner_id": 20, "priority": "2", "tag_ids": []any{4}}); !slices.Equal(got, []any{4}) {
		t.Fatalf("tagged: %v", got)
	}
	if got := create(map[string]any{"name": "x", "team_id": 1, "partner_id": 20, "priority": "2"}); len(got) != 0 {
		t.Fatalf("untagged: %v", got)
	}
	// Urgent needs ticket type Issue (16/17).
	if got := create(map[string]any{"name": "x", "team_id": 1, "partner_id": 20, "priority": "3", "ticket_type_id": 2}); !slices.Equal(got, []any{5}) {
		t.Fatalf("typed: %v", got)
	}
}
