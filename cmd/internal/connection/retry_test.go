package connection

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/dvsync/dvsync/dataverse"
)

func TestRetryNotices(t *testing.T) {
	var b bytes.Buffer
	f := RetryNotices(&b)
	f(dataverse.RetryNotice{Method: "GET", Path: "/x", MaxWait: 10 * time.Millisecond, Reason: "503"})
	if b.Len() != 0 {
		t.Fatalf("a short wait was announced: %q", b.String())
	}
	f(dataverse.RetryNotice{Method: "POST", Path: "/api/data/v9.2/$batch", Attempt: 1, Max: 10, Wait: 5 * time.Second, Reason: "429 Too Many Requests"})
	if got := b.String(); !strings.Contains(got, "waiting 5s (Retry-After) to retry POST /api/data/v9.2/$batch") || !strings.Contains(got, "429") || strings.Count(got, "\n") != 1 {
		t.Fatalf("notice %q", got)
	}
}
