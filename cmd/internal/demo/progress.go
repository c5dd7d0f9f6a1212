package demo

import (
	"io"
	"sync"
	"time"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/migrations"
)

// stepProgress shows the engine's progress one display per step: a bar
// with the step's total (the source's count) on a terminal, a line every
// few seconds elsewhere, so a long migration step is never silent. Steps
// may report concurrently.
type stepProgress struct {
	w     io.Writer
	quiet bool
	// interval between lines off a terminal; zero for the default.
	interval time.Duration
	// done is told when a step ends.
	done func(migrations.StepProgress)

	mu    sync.Mutex
	steps map[string]*stepBar
}

type stepBar struct {
	bar  *output.Progress
	read int64
}

func (s *stepProgress) update(p migrations.StepProgress) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.steps == nil {
		s.steps = map[string]*stepBar{}
	}
	st := s.steps[p.Step]
	if st == nil {
		st = &stepBar{bar: output.StartProgress(s.w, output.ProgressOptions{Description: "odoo migration: " + p.Step, Total: p.Total, Quiet: s.quiet, Interval: s.interval})}
		s.steps[p.Step] = st
	}
	if p.Total > 0 {
		st.bar.SetTotal(p.Total)
	}
	if d := p.Counts.Read - st.read; d > 0 {
		st.bar.Add(int(d))
		st.read = p.Counts.Read
	}
	if p.Status == migrations.StatusSucceeded || p.Status == migrations.StatusFailed {
		st.bar.Finish()
		delete(s.steps, p.Step)
		if s.done != nil {
			s.done(p)
		}
	}
}

// finish ends the displays of steps that never reported their end (the
// run stopped).
func (s *stepProgress) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, st := range s.steps {
		st.bar.Finish()
		delete(s.steps, name)
	}
}
