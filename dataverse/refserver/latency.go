package refserver

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// Latency makes loopback behave like a network round trip to a real
// environment: every request waits PerRequest plus PerRecord for each record
// it wrote or returned before its response is sent. The wait counts toward
// the request's execution time for service protection limits.
type Latency struct {
	PerRequest time.Duration
	PerRecord  time.Duration
}

// Delay is the wait for a request that touched records records.
func (l Latency) Delay(records int64) time.Duration {
	return l.PerRequest + time.Duration(records)*l.PerRecord
}

// String renders l in the syntax ParseLatency reads.
func (l Latency) String() string {
	return fmt.Sprintf("%s+%s/record", l.PerRequest, l.PerRecord)
}

// ParseLatency reads a profile such as "50ms+0.5ms/record", "50ms" or
// "2ms/record". "" or "off" means none (nil).
func ParseLatency(spec string) (*Latency, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" || strings.EqualFold(spec, "off") || strings.EqualFold(spec, "none") {
		return nil, nil
	}
	var l Latency
	for _, term := range strings.Split(spec, "+") {
		term = strings.TrimSpace(term)
		if perRecord, ok := strings.CutSuffix(term, "/record"); ok {
			d, err := parseDurationFraction(perRecord)
			if err != nil {
				return nil, fmt.Errorf("%q in %q: %w (e.g. 50ms+0.5ms/record)", term, spec, err)
			}
			l.PerRecord += d
			continue
		}
		d, err := parseDurationFraction(term)
		if err != nil {
			return nil, fmt.Errorf("%q in %q: %w (e.g. 50ms+0.5ms/record)", term, spec, err)
		}
		l.PerRequest += d
	}
	return &l, nil
}

// parseDurationFraction is time.ParseDuration that refuses negatives.
func parseDurationFraction(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration")
	}
	return d, nil
}

// recordCount counts the records a request wrote or returned, including
// those of every operation inside a $batch.
type recordCount struct{ n atomic.Int64 }

type recordCountKey struct{}

func withRecordCount(ctx context.Context, c *recordCount) context.Context {
	return context.WithValue(ctx, recordCountKey{}, c)
}

// countRecords adds n records to the count carried by ctx, if any.
func countRecords(ctx context.Context, n int) {
	if c, ok := ctx.Value(recordCountKey{}).(*recordCount); ok {
		c.n.Add(int64(n))
	}
}

// sleepContext waits d or until ctx ends; it reports whether d elapsed.
func sleepContext(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
