package output

import (
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
)

// DefaultProgressInterval is how often progress is reported off a terminal.
const DefaultProgressInterval = 5 * time.Second

// ProgressOptions configure StartProgress. The zero value is usable: an
// unknown total, counted in "records", a line every 5 s off a terminal.
type ProgressOptions struct {
	// Description names the work ("pulling incidents").
	Description string
	// Total is the amount of work when known (Dataverse $count or
	// RetrieveTotalRecordCount, Odoo search_count); zero or less means
	// unknown, and only the count and rate are shown.
	Total int64
	// Unit names what is counted; default "records".
	Unit string
	// Quiet shows nothing (--quiet).
	Quiet bool
	// Interval between lines off a terminal; default DefaultProgressInterval.
	Interval time.Duration
}

// Progress reports long work. On a terminal it draws a bar with the total,
// rate and time left (a spinner while the total is unknown); elsewhere
// (logs, CI, pipes) it writes one plain line every Interval, so a long run
// is never silent and a short one prints nothing. It is safe for
// concurrent use, and a nil *Progress does nothing.
type Progress struct {
	bar *progressbar.ProgressBar
	w   io.Writer
	// mu keeps lines whole: a Println between two report lines.
	mu sync.Mutex

	// Off a terminal:
	desc     atomic.Pointer[string]
	unit     string
	done     atomic.Int64
	total    atomic.Int64
	start    time.Time
	stop     chan struct{}
	stopped  sync.WaitGroup
	finished sync.Once
}

// isTerminal is replaced by tests.
var isTerminal = IsTerminal

// StartProgress starts reporting progress on w.
func StartProgress(w io.Writer, o ProgressOptions) *Progress {
	if o.Quiet || w == nil {
		return nil
	}
	if o.Unit == "" {
		o.Unit = "records"
	}
	if isTerminal(w) {
		total := o.Total
		if total <= 0 {
			total = -1 // progressbar's spinner
		}
		return &Progress{w: w, bar: progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(o.Description),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString(o.Unit),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetRenderBlankState(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSpinnerType(14),
		)}
	}
	if o.Interval <= 0 {
		o.Interval = DefaultProgressInterval
	}
	p := &Progress{w: w, unit: o.Unit, start: time.Now(), stop: make(chan struct{})}
	p.desc.Store(&o.Description)
	p.total.Store(max(o.Total, 0))
	p.stopped.Add(1)
	go p.report(o.Interval)
	return p
}

// NewProgress starts a progress indicator on w. total <= 0 means unknown.
//
// Deprecated: use StartProgress, which also takes --quiet and a unit.
func NewProgress(w io.Writer, total int64, description string) *Progress {
	return StartProgress(w, ProgressOptions{Total: total, Description: description})
}

func (p *Progress) report(every time.Duration) {
	defer p.stopped.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			p.mu.Lock()
			fmt.Fprintln(p.w, p.line(now))
			p.mu.Unlock()
		}
	}
}

// line is the off-terminal report: "pulling incidents: 12,000 of 50,000
// records (24%), 4,000 records/s, about 10s left".
func (p *Progress) line(now time.Time) string {
	done, total := p.done.Load(), p.total.Load()
	elapsed := now.Sub(p.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(done) / elapsed
	}
	s := *p.desc.Load() + ": " + Count(done)
	if total > 0 {
		s += " of " + Count(total) + " " + p.unit + fmt.Sprintf(" (%d%%)", min(done*100/total, 100))
	} else {
		s += " " + p.unit
	}
	s += ", " + Count(int64(rate+0.5)) + " " + p.unit + "/s"
	if total > done && rate > 0 {
		left := time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second)
		s += ", about " + left.String() + " left"
	}
	return s
}

// Add counts n more units done.
func (p *Progress) Add(n int) {
	if p == nil {
		return
	}
	if p.bar != nil {
		_ = p.bar.Add(n)
		return
	}
	p.done.Add(int64(n))
}

// SetTotal sets (or corrects) the total once it is known.
func (p *Progress) SetTotal(total int64) {
	if p == nil {
		return
	}
	if p.bar != nil {
		if total <= 0 {
			total = -1
		}
		p.bar.ChangeMax64(total)
		return
	}
	p.total.Store(max(total, 0))
}

// Describe changes the description, for work done in steps.
func (p *Progress) Describe(description string) {
	if p == nil {
		return
	}
	if p.bar != nil {
		p.bar.Describe(description)
		return
	}
	p.desc.Store(&description)
}

// Println prints a line of its own (a retry that waits, and why) without
// breaking the bar: on a terminal the bar is cleared, the line printed and
// the bar drawn again below it.
func (p *Progress) Println(line string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Clear()
		fmt.Fprintln(p.w, line)
		_ = p.bar.RenderBlank()
		return
	}
	fmt.Fprintln(p.w, line)
}

// Finish stops reporting and clears the bar; the command then prints its
// summary. It may be called more than once.
func (p *Progress) Finish() {
	if p == nil {
		return
	}
	p.finished.Do(func() {
		if p.bar != nil {
			_ = p.bar.Finish()
			return
		}
		close(p.stop)
		p.stopped.Wait()
	})
}

// Count formats n with thousands separators: 12,345.
func Count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var b []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	if neg {
		return "-" + string(b)
	}
	return string(b)
}
