package migrations

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// RejectLine is one line of the rejects file (JSON Lines): the source
// record as read, the step, why it was rejected, and for write rejects the
// target records the mapping produced.
type RejectLine struct {
	Time     time.Time      `json:"time"`
	RunID    string         `json:"run_id,omitempty"`
	Job      string         `json:"job"`
	Step     string         `json:"step"`
	SourceID string         `json:"source_id"`
	Reason   string         `json:"reason"`
	Error    string         `json:"error"`
	Source   map[string]any `json:"source"`
	Target   []TargetRecord `json:"target,omitempty"`
}

// WarningLine is one line of the warnings file (JSON Lines): a fallback
// the mapping took for one source record (MapResult.Warnings), one line
// per warning.
type WarningLine struct {
	Time     time.Time `json:"time"`
	RunID    string    `json:"run_id,omitempty"`
	Job      string    `json:"job"`
	Step     string    `json:"step"`
	SourceID string    `json:"source_id"`
	Message  string    `json:"message"`
}

// linesFile serialises JSON lines to w. Lines are written before the batch
// holding them is committed, so a crash in between can repeat a line on
// resume but never lose one; the state store keeps the exact current set
// of rejects.
type linesFile struct {
	what string // "rejects" or "warnings", for errors
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
	return json.Marshal(key{k.ID, k.Alternate})
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
