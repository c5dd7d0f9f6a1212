package migrations

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"
)

// TestJSONNamesAreCamelCase: the records a store, a rejects, skips or
// warnings file and --json carry use one naming style, camelCase, as every
// JSON dvsync writes (issue 11 item 10).
func TestJSONNamesAreCamelCase(t *testing.T) {
	snake := regexp.MustCompile(`"[a-z0-9]+_[a-z0-9_]*"\s*:`)
	for _, v := range []any{
		RejectState{SourceID: "1", RunID: "r", Reason: "map", Error: "e"},
		SkipState{SourceID: "1", RunID: "r", Reason: "archived"},
		RejectLine{Time: time.Unix(0, 0), RunID: "r", Job: "j", Step: "s", SourceID: "1", Reason: "map", Error: "e"},
		SkipLine{Time: time.Unix(0, 0), RunID: "r", Job: "j", Step: "s", SourceID: "1", Reason: "skip"},
		WarningLine{Time: time.Unix(0, 0), RunID: "r", Job: "j", Step: "s", SourceID: "1", Message: "m"},
		ReasonGroup{Reason: "r", Count: 1, Examples: []Example{{SourceID: "1", Detail: "d"}}},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if k := snake.Find(b); k != nil {
			t.Errorf("%T has the snake_case name %s: %s", v, k, b)
		}
	}
}
