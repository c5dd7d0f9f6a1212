package demo

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dvsync/dvsync/migrations"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A long migration step reports its progress against the source's count
// (issue 11 item 5: the demo sat 30 s on one line).
func TestStepProgress(t *testing.T) {
	var buf syncBuffer
	var ended []string
	sp := &stepProgress{w: &buf, interval: 10 * time.Millisecond, done: func(p migrations.StepProgress) { ended = append(ended, p.Step) }}
	sp.update(migrations.StepProgress{Step: "tickets", Status: migrations.StatusRunning, Total: 2000, Counts: migrations.Counts{Read: 500}})
	sp.update(migrations.StepProgress{Step: "messages", Status: migrations.StatusRunning, Total: -1, Counts: migrations.Counts{Read: 30}})
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(buf.String(), "\n") < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	sp.update(migrations.StepProgress{Step: "tickets", Status: migrations.StatusSucceeded, Total: 2000, Counts: migrations.Counts{Read: 2000}})
	sp.finish()
	out := buf.String()
	if !strings.Contains(out, "odoo migration: tickets: 500 of 2,000 records (25%)") || !strings.Contains(out, "odoo migration: messages: 30 records") {
		t.Errorf("progress lines:\n%s", out)
	}
	if len(ended) != 1 || ended[0] != "tickets" {
		t.Errorf("ended steps %v", ended)
	}
	n := len(buf.String())
	time.Sleep(40 * time.Millisecond)
	if len(buf.String()) != n {
		t.Error("lines after the steps ended")
	}

	var quiet syncBuffer
	q := &stepProgress{w: &quiet, quiet: true, interval: time.Millisecond}
	q.update(migrations.StepProgress{Step: "tickets", Status: migrations.StatusRunning, Total: 10, Counts: migrations.Counts{Read: 5}})
	time.Sleep(10 * time.Millisecond)
	q.update(migrations.StepProgress{Step: "tickets", Status: migrations.StatusSucceeded, Total: 10, Counts: migrations.Counts{Read: 10}})
	if quiet.String() != "" {
		t.Errorf("--quiet printed %q", quiet.String())
	}
}
