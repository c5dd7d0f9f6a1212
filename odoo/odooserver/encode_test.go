package odooserver

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestRecordOutMatchesEncodingJSON(t *testing.T) {
	r := newRecordOut(8)
	r.add("id", 7)
	r.add("name", "Quote \" backslash \\ tab\t nl\n ctl\x01 <b>&é😀")
	r.add("m2o", []any{3, "Azure, Brandon"})
	r.add("ids", []any{})
	r.add("empty", false)
	r.add("hours", 8.0)
	r.add("ratio", 0.125)
	r.add("ctx", map[string]any{"lang": "en_US"})
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as writeJSON does
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	got := bytes.TrimSpace(buf.Bytes())
	var back map[string]any
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	want := r.toMap()
	for k, v := range want {
		wb, _ := json.Marshal(v)
		gb, _ := json.Marshal(back[k])
		if k == "hours" {
			wb = []byte("8")
		}
		if string(wb) != string(gb) {
			t.Errorf("%s: got %s, want %s", k, gb, wb)
		}
	}
	if want := `{"id":7,"name":"Quote \" backslash \\ tab\t nl\n ctl\u0001 <b>&é😀","m2o":[3,"Azure, Brandon"],"ids":[],"empty":false,"hours":8.0,"ratio":0.125,"ctx":{"lang":"en_US"}}`; string(got) != want {
		t.Fatalf("encoded\n got %s\nwant %s", got, want)
	}
	if s := string(appendJSONString(nil, "bad\xffutf8")); s != `"bad\ufffdutf8"` {
		t.Fatalf("invalid UTF-8: %s", s)
	}
}
