package dataverse

import (
	"testing"

	"github.com/google/uuid"
)

// TestOwnerBindComparesForUsersAndTeams: ownerid is one navigation
// property for a systemuser or a team, so a record owned by a team that
// already holds its values is unchanged (a closed case re-sent because of
// its team owner is refused by Dataverse with 0x80043e09).
func TestOwnerBindComparesForUsersAndTeams(t *testing.T) {
	c, err := NewClient("http://127.0.0.1:1", StaticToken("t"), nil)
	if err != nil {
		t.Fatal(err)
	}
	tbl, ok := c.Schema().Table("incident")
	if !ok {
		t.Fatal("no incident table")
	}
	w := &batchWriter{c: c, t: tbl}
	id := uuid.New().String()
	cur := Record{"_ownerid_value": id, "_customerid_value": id}
	for bind, same := range map[string]bool{
		"/teams(" + id + ")":               true,
		"/systemusers(" + id + ")":         true,
		"/accounts(" + id + ")":            false,
		"/teams(" + uuid.NewString() + ")": false,
	} {
		if got := w.sameValues(Record{"ownerid@odata.bind": bind}, cur); got != same {
			t.Errorf("ownerid bound to %s: same = %v, want %v", bind, got, same)
		}
	}
	// A polymorphic lookup other than the owner is still tied to the
	// target its navigation property names.
	if w.sameValues(Record{"customerid_account@odata.bind": "/contacts(" + id + ")"}, cur) {
		t.Error("customerid_account bound to a contact compared as the same")
	}
	if !w.sameValues(Record{"customerid_account@odata.bind": "/accounts(" + id + ")"}, cur) {
		t.Error("customerid_account bound to the same account compared as changed")
	}
}
