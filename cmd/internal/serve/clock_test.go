package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/cmd/internal/output"
)

// TestServeClock: --clock sets the reference Dataverse's time, which
// createdon (and so SLA timers) follows.
func TestServeClock(t *testing.T) {
	t.Setenv("DVSYNC_TOKEN", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	cmd := NewCommand(output.NewStreams(strings.NewReader(""), pw, io.Discard))
	cmd.SetArgs([]string{"--memory", "--listen", "127.0.0.1:0", "--clock", "2026-01-09T16:45:00Z"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	url := strings.TrimSpace(strings.TrimPrefix(line, "dataverse "))
	req, _ := http.NewRequest("POST", url+"accounts", strings.NewReader(`{"name":"Clocked"}`))
	req.Header.Set("Authorization", "Bearer t")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Prefer", "return=representation")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	json.NewDecoder(resp.Body).Decode(&rec)
	resp.Body.Close()
	if c, _ := rec["createdon"].(string); !strings.HasPrefix(c, "2026-01-09T16:4") {
		t.Fatalf("createdon %v, want the --clock time", rec["createdon"])
	}
	cancel()
	<-done

	bad := NewCommand(output.NewStreams(strings.NewReader(""), io.Discard, io.Discard))
	bad.SetArgs([]string{"--memory", "--listen", "127.0.0.1:0", "--clock", "friday"})
	if err := bad.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), "--clock") {
		t.Fatalf("bad --clock: %v", err)
	}
}
