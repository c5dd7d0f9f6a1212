package migrations

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// RejectLine is one line of the rejects file (JSON Lines): the source
// record as read, the step, why it was rejected, and for write rejects the
// target records the mapping produced.
type RejectLine struct {
	Time     time.Time      `json:"time"`
	RunID    string         `json:"runId,omitempty"`
	Job      string         `json:"job"`
	Step     string         `json:"step"`
	SourceID string         `json:"sourceId"`
	Reason   string         `json:"reason"`
	Error    string         `json:"error"`
	Source   map[string]any `json:"source,omitempty"`
	Target   []TargetRecord `json:"target,omitempty"`
}

// SkipLine is one line of the skips file (JSON Lines): a source record the
// mapping deliberately left out, and why (MapResult.SkipReason).
type SkipLine struct {
	Time     time.Time      `json:"time"`
	RunID    string         `json:"runId,omitempty"`
	Job      string         `json:"job"`
	Step     string         `json:"step"`
	SourceID string         `json:"sourceId"`
	Reason   string         `json:"reason"`
	Source   map[string]any `json:"source,omitempty"`
}

// WarningLine is one line of the warnings file (JSON Lines): a fallback
// the mapping took for one source record (MapResult.Warnings), one line
// per warning.
type WarningLine struct {
	Time     time.Time `json:"time"`
	RunID    string    `json:"runId,omitempty"`
	Job      string    `json:"job"`
	Step     string    `json:"step"`
	SourceID string    `json:"sourceId"`
	Message  string    `json:"message"`
}

// linesFile serialises JSON lines to w. Lines are written before the batch
// holding them is committed, so a crash in between can repeat a line on
// resume but never lose one; the state store keeps the exact current set
// of rejects.
type linesFile struct {
	what string // "rejects", "skips" or "warnings", for errors
	mu   sync.Mutex
	enc  *json.Encoder
}

func newLinesFile(w io.Writer, what string) *linesFile {
	if w == nil {
		return nil
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &linesFile{what: what, enc: enc}
}

func (f *linesFile) write(l any) error {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enc.Encode(l); err != nil {
		return fmt.Errorf("migrations: write %s file: %w", f.what, err)
	}
	return nil
}

// MarshalJSON makes Key readable in rejects and samples.
func (k Key) MarshalJSON() ([]byte, error) {
	type key struct {
		ID        string         `json:"id,omitempty"`
		Alternate map[string]any `json:"alternate,omitempty"`
	}
	return json.Marshal(key(k))
}

// UnmarshalJSON is the inverse of MarshalJSON.
func (k *Key) UnmarshalJSON(b []byte) error {
	var v struct {
		ID        string         `json:"id"`
		Alternate map[string]any `json:"alternate"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	k.ID, k.Alternate = v.ID, v.Alternate
	return nil
}

// DefaultExamples is the number of records each ReasonGroup names.
const DefaultExamples = 5

// ReasonGroup counts the records of a step skipped or rejected for one
// reason, and names the first of them, so a summary can say "7 skipped: a
// person: migrated as a contact (e.g. 12, 15, 31)" while the skips or
// rejects file lists every one.
type ReasonGroup struct {
	// Reason is the skip reason, or for rejects the error with what
	// differs from record to record (IDs, numbers, quoted values) elided,
	// so records refused for the same cause fall in one group.
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
	// Examples are the first records of the group in source order.
	Examples []Example `json:"examples,omitempty"`
}

// Example is one record of a ReasonGroup.
type Example struct {
	SourceID string `json:"sourceId"`
	// Detail is the record's own error, for rejects.
	Detail string `json:"detail,omitempty"`
}

// reasonTally groups records by reason as they come.
type reasonTally struct {
	examples int
	index    map[string]int
	groups   []ReasonGroup
}

func newReasonTally(examples int) *reasonTally {
	return &reasonTally{examples: examples, index: map[string]int{}}
}

func (t *reasonTally) add(reason, sourceID, detail string) {
	i, ok := t.index[reason]
	if !ok {
		i = len(t.groups)
		t.index[reason] = i
		t.groups = append(t.groups, ReasonGroup{Reason: reason})
	}
	g := &t.groups[i]
	g.Count++
	if len(g.Examples) < t.examples {
		g.Examples = append(g.Examples, Example{SourceID: sourceID, Detail: detail})
	}
}

// sorted returns the groups, largest first (ties by reason), or nil.
func (t *reasonTally) sorted() []ReasonGroup {
	if len(t.groups) == 0 {
		return nil
	}
	out := slices.Clone(t.groups)
	slices.SortStableFunc(out, func(a, b ReasonGroup) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Reason, b.Reason))
	})
	return out
}

// ReasonGroups groups records by reason as StepSummary.Skips and Rejects
// do, for a caller that gets the records from elsewhere: the coordinator
// of a distributed run reads them from the shared state store.
type ReasonGroups struct{ t *reasonTally }

// NewReasonGroups keeps up to examples records of each group.
func NewReasonGroups(examples int) *ReasonGroups {
	return &ReasonGroups{t: newReasonTally(max(examples, 0))}
}

// AddSkip counts a skipped record under its reason.
func (g *ReasonGroups) AddSkip(s SkipState) { g.t.add(s.Reason, s.SourceID, "") }

// AddReject counts a rejected record under its error's pattern
// (RejectPattern), with the error itself as the example's detail.
func (g *ReasonGroups) AddReject(r RejectState) { g.t.add(RejectPattern(r.Error), r.SourceID, r.Error) }

// Sorted returns the groups, largest first, or nil.
func (g *ReasonGroups) Sorted() []ReasonGroup { return g.t.sorted() }

var (
	reGUID   = regexp.MustCompile(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`)
	reQuoted = regexp.MustCompile(`'[^']*'|"[^"]*"`)
	reEmail  = regexp.MustCompile(`[^\s'"<>(),;:=]+@[^\s'"<>(),;:=]+\.[A-Za-z]{2,}`)
	reNumber = regexp.MustCompile(`(^|[^0-9A-Za-z_.])([0-9]+)($|[^0-9A-Za-z_])`)
	reStatus = regexp.MustCompile(`^[1-5][0-9][0-9] [A-Z]`)
	reReq    = regexp.MustCompile(` \[request [^\]]*\]`)
)

// RejectPattern is the reason a reject is grouped under: err with what
// belongs to one record elided (GUIDs, quoted values, e-mail addresses,
// numbers other than an HTTP status, Dataverse's request IDs), so "customer
// 12 was not migrated" and "customer 31 was not migrated" are one reason.
func RejectPattern(err string) string {
	s := reReq.ReplaceAllString(err, "")
	s = reGUID.ReplaceAllString(s, "…")
	s = reEmail.ReplaceAllString(s, "…")
	s = reQuoted.ReplaceAllStringFunc(s, func(q string) string { return q[:1] + "…" + q[:1] })
	var b strings.Builder
	for {
		m := reNumber.FindStringSubmatchIndex(s)
		if m == nil {
			b.WriteString(s)
			break
		}
		// Keep "400 Bad Request": the status is the cause, not the record.
		num := s[m[4]:m[5]]
		keep := reStatus.MatchString(s[m[4]:])
		b.WriteString(s[:m[4]])
		if keep {
			b.WriteString(num)
		} else {
			b.WriteString("…")
		}
		s = s[m[5]:]
	}
	return b.String()
}
