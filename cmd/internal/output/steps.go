package output

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// StepsOptions configure NewSteps. The zero value is usable.
type StepsOptions struct {
	// Prefix names the work before each step's name ("verifying").
	Prefix string
	// Unit names what is counted; default "records".
	Unit string
	// Quiet shows no progress (--quiet); notices are still printed.
	Quiet bool
	// Interval between lines off a terminal; default
	// DefaultProgressInterval.
	Interval time.Duration
}

// Steps shows the progress of a job made of steps (a migration, a
// verification): one display per running step, a bar with the step's
// total, rate and time left on a terminal, a line every few seconds
// elsewhere (see StartProgress). Steps may report concurrently. Notices
// (a retry that waits) are printed between the bars' lines.
type Steps struct {
	w io.Writer
	o StepsOptions

	mu    sync.Mutex
	steps map[string]*stepDisplay
	last  *Progress // where notices go while a step runs
}

type stepDisplay struct {
	bar   *Progress
	done  int64
	total int64
}

// NewSteps shows steps' progress on w.
func NewSteps(w io.Writer, o StepsOptions) *Steps {
	return &Steps{w: w, o: o, steps: map[string]*stepDisplay{}}
}

// Update reports that step has done units of total (zero or less:
// unknown); ended closes its display.
func (s *Steps) Update(step string, done, total int64, ended bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.steps[step]
	if d == nil {
		if ended && done == 0 {
			return // a step that had nothing to do
		}
		desc := step
		if s.o.Prefix != "" {
			desc = s.o.Prefix + " " + step
		}
		d = &stepDisplay{bar: StartProgress(s.w, ProgressOptions{Description: desc, Total: total, Unit: s.o.Unit, Quiet: s.o.Quiet, Interval: s.o.Interval})}
		d.total = max(total, 0)
		s.steps[step] = d
	}
	s.last = d.bar
	if total > 0 && total != d.total {
		d.bar.SetTotal(total)
		d.total = total
	}
	if n := done - d.done; n > 0 {
		d.bar.Add(int(n))
		d.done = done
	}
	if ended {
		d.bar.Finish()
		delete(s.steps, step)
		s.last = nil
		for _, other := range s.steps {
			s.last = other.bar
		}
	}
}

// Notice prints line without breaking a bar.
func (s *Steps) Notice(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last != nil {
		s.last.Println(line)
		return
	}
	fmt.Fprintln(s.w, line)
}

// Writer is an io.Writer whose lines are notices, for helpers that print
// (connection.RetryNotices).
func (s *Steps) Writer() io.Writer { return noticeWriter{s} }

type noticeWriter struct{ s *Steps }

func (n noticeWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		n.s.Notice(line)
	}
	return len(p), nil
}

// Finish ends the displays of steps that never reported their end (the
// run stopped).
func (s *Steps) Finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, d := range s.steps {
		d.bar.Finish()
		delete(s.steps, name)
	}
	s.last = nil
}
