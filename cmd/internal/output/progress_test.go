package output

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Off a terminal, progress is a plain line every interval with the total,
// percentage, rate and time left (issue 11 item 5: a spinner whose total
// was always "-" and nothing at all in logs).
func TestProgressLinesOffTerminal(t *testing.T) {
	var buf lockedBuffer
	p := StartProgress(&buf, ProgressOptions{Description: "pulling incidents", Total: 50000, Interval: 20 * time.Millisecond})
	p.Add(12000)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(buf.String(), "\n") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	p.Finish()
	p.Finish() // idempotent
	first, _, _ := strings.Cut(buf.String(), "\n")
	re := regexp.MustCompile(`^pulling incidents: 12,000 of 50,000 records \(24%\), [0-9,]+ records/s, about \S+ left$`)
	if !re.MatchString(first) {
		t.Errorf("line %q does not match %s", first, re)
	}
	n := strings.Count(buf.String(), "\n")
	time.Sleep(60 * time.Millisecond)
	if strings.Count(buf.String(), "\n") != n {
		t.Error("lines after Finish")
	}
}

func TestProgressUnknownTotalAndQuiet(t *testing.T) {
	var buf lockedBuffer
	p := StartProgress(&buf, ProgressOptions{Description: "reading", Interval: 10 * time.Millisecond})
	p.Add(7)
	for !strings.Contains(buf.String(), "\n") {
		time.Sleep(5 * time.Millisecond)
	}
	p.SetTotal(10)
	p.Describe("reading more")
	p.Finish()
	if first, _, _ := strings.Cut(buf.String(), "\n"); !strings.HasPrefix(first, "reading: 7 records, ") || strings.Contains(first, "left") {
		t.Errorf("unknown total: %q", first)
	}
	var quiet lockedBuffer
	q := StartProgress(&quiet, ProgressOptions{Quiet: true, Total: 5, Interval: time.Millisecond})
	q.Add(5)
	q.SetTotal(6)
	time.Sleep(10 * time.Millisecond)
	q.Finish()
	if quiet.String() != "" {
		t.Errorf("--quiet printed %q", quiet.String())
	}
}

// On a terminal, the bar shows the total and the rate; the writer here
// stands in for one.
func TestProgressBarOnTerminal(t *testing.T) {
	isTerminal = func(io.Writer) bool { return true }
	defer func() { isTerminal = IsTerminal }()
	var buf lockedBuffer
	p := StartProgress(&buf, ProgressOptions{Description: "pulling incidents", Total: 200})
	p.Add(50)
	time.Sleep(120 * time.Millisecond)
	p.Add(1)
	out := buf.String()
	p.Finish()
	if !strings.Contains(out, "pulling incidents") || !strings.Contains(out, "/200") || !strings.Contains(out, "records/s") {
		t.Errorf("bar: %q", out)
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1200: "-1,200"} {
		if got := Count(n); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}
