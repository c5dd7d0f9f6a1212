package refserver

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The fast path of writeJSONValue must produce what encoding/json does.
func TestWriteJSONValueMatchesEncodingJSON(t *testing.T) {
	values := []any{nil, true, false, int64(-42), int64(9007199254740993), 7, "plain text", "",
		`quote " inside`, `back\slash`, "tab\tnew\nline", "ctrl\x01", "<html>&amp;", "naïve café", "\u2028sep",
		"bad utf8 \xff", 3.25, 1e21, []string{"a"}}
	for _, v := range values {
		var got bytes.Buffer
		writeJSONValue(&got, v)
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		enc.Encode(v)
		if got.String() != want.String()[:want.Len()-1] {
			t.Errorf("%#v: got %s, want %s", v, got.String(), want.String())
		}
	}
}

func FuzzWriteJSONValueString(f *testing.F) {
	f.Add("hello")
	f.Add("a\"b\\c\x00")
	f.Fuzz(func(t *testing.T, s string) {
		var got bytes.Buffer
		writeJSONValue(&got, s)
		var back string
		if err := json.Unmarshal(got.Bytes(), &back); err != nil {
			t.Fatalf("%q encoded as invalid JSON %s: %v", s, got.String(), err)
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		enc.Encode(s)
		if got.String() != want.String()[:want.Len()-1] {
			t.Fatalf("%q: got %s, want %s", s, got.String(), want.String())
		}
	})
}
