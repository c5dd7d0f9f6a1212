package connection

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/dvsync/dvsync/dataverse"
)

// RetryNotices returns a dataverse.ClientOptions.OnRetry that tells the
// user, one line each, when the client waits a second or more before
// sending a request again, and why ("waiting 5s (Retry-After) to retry
// POST …: 429 Too Many Requests"). Shorter waits pass silently: they
// cost less than the line.
func RetryNotices(w io.Writer) func(dataverse.RetryNotice) {
	var mu sync.Mutex
	return func(n dataverse.RetryNotice) {
		if max(n.Wait, n.MaxWait) < time.Second {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(w, n)
	}
}
