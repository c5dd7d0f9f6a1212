package output

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// Each step shows its own total off a terminal, and a notice (a retry
// waiting on Retry-After) is printed between the lines.
func TestStepsLinesWithTotalsAndNotices(t *testing.T) {
	var buf lockedBuffer
	s := NewSteps(&buf, StepsOptions{Prefix: "verifying", Interval: 10 * time.Millisecond})
	s.Update("cases", 0, 400, false)
	s.Update("cases", 100, 400, false)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(buf.String(), "verifying cases: 100 of 400 records (25%)") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Fprintln(s.Writer(), "dataverse: waiting 205s (Retry-After) to retry GET /api/data/v9.2/incidents")
	s.Update("cases", 400, 400, true)
	s.Update("notes", 0, 0, true) // nothing to do: no display
	s.Finish()
	out := buf.String()
	for _, want := range []string{"verifying cases: 100 of 400 records (25%)", "waiting 205s (Retry-After)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "notes") {
		t.Errorf("a step with nothing to do was shown:\n%s", out)
	}
}

func TestStepsQuietStillPrintsNotices(t *testing.T) {
	var buf lockedBuffer
	s := NewSteps(&buf, StepsOptions{Quiet: true, Interval: time.Millisecond})
	s.Update("cases", 10, 400, false)
	time.Sleep(20 * time.Millisecond)
	s.Notice("dataverse: waiting 5s (Retry-After)")
	s.Update("cases", 400, 400, true)
	if got := buf.String(); got != "dataverse: waiting 5s (Retry-After)\n" {
		t.Errorf("--quiet printed %q", got)
	}
}

// On a terminal the bar carries the step's total and the notice is
// printed above it, the bar drawn again after it.
func TestStepsBarOnTerminal(t *testing.T) {
	isTerminal = func(io.Writer) bool { return true }
	defer func() { isTerminal = IsTerminal }()
	var buf lockedBuffer
	s := NewSteps(&buf, StepsOptions{Prefix: "migrating"})
	s.Update("cases", 50, 200, false)
	time.Sleep(120 * time.Millisecond)
	s.Notice("dataverse: waiting 5s (Retry-After)")
	out := buf.String()
	s.Finish()
	i, j := strings.Index(out, "dataverse: waiting 5s"), strings.LastIndex(out, "/200")
	if !strings.Contains(out, "migrating cases") || i < 0 || j < i {
		t.Errorf("bar and notice: %q", out)
	}
}
