package batchwire

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzReadRequest feeds hostile $batch framing to the reader: it must
// never panic, must refuse with *Error, and whatever it accepts must hold
// at most MaxRequests operations and survive a write/read round trip.
func FuzzReadRequest(f *testing.F) {
	seeds := []string{
		"--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET /api/data/v9.2/accounts HTTP/1.1\r\nAccept: application/json\r\n\r\n\r\n--b--\r\n",
		"--b\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n--cs\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\nPOST /api/data/v9.2/accounts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{\"name\":\"x\"}\r\n--cs--\r\n\r\n--b--\r\n",
		"--b\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n--cs\r\nContent-Type: multipart/mixed; boundary=cs2\r\n\r\n--cs2--\r\n--cs--\r\n--b--\r\n",
		"--b\r\nContent-Type: application/http\r\n\r\nNOT A REQUEST LINE\r\n--b--",
		"--b\r\n\r\n--b--",
		"",
	}
	for _, s := range seeds {
		f.Add(s, "multipart/mixed; boundary=b")
	}
	f.Add("x", "text/plain")
	f.Fuzz(func(t *testing.T, body, contentType string) {
		parts, err := ReadRequest(strings.NewReader(body), contentType)
		if err != nil {
			var we *Error
			if !errors.As(err, &we) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			return
		}
		if Count(parts) > MaxRequests {
			t.Fatalf("accepted %d requests", Count(parts))
		}
		for _, p := range parts {
			if p.Request == nil && len(p.ChangeSet) == 0 {
				t.Fatal("empty change set accepted")
			}
		}
		// What was accepted must be writable and read back to the same
		// number of operations.
		var buf bytes.Buffer
		if err := WriteRequest(&buf, "batch_fuzz", parts); err != nil {
			return // e.g. a header value the writer refuses to emit
		}
		back, err := ReadRequest(&buf, RequestContentType("batch_fuzz"))
		if err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if Count(back) != Count(parts) {
			t.Fatalf("round trip: %d operations, want %d", Count(back), Count(parts))
		}
	})
}
