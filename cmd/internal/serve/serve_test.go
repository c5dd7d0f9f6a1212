package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dvsync/dvsync/cmd/internal/output"
)

func TestServePrintsOneLinePerServiceAndStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t.Setenv("DVSYNC_TOKEN", "")
	t.Setenv("ODOO_API_KEY", "odoo-secret-key")
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	var stderr syncBuffer
	streams := output.NewStreams(strings.NewReader(""), pw, &stderr)
	cmd := NewCommand(streams)
	cmd.SetArgs([]string{"--memory", "--listen", "127.0.0.1:0", "--odoo-listen", "127.0.0.1:0", "--odoo-seed", "", "--token-file", tokenFile})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx); pw.Close() }()

	lines := bufio.NewScanner(pr)
	var got []string
	for len(got) < 2 && lines.Scan() {
		got = append(got, lines.Text())
	}
	go io.Copy(io.Discard, pr)
	if len(got) != 2 || !strings.HasPrefix(got[0], "dataverse http://127.0.0.1:") || !strings.HasSuffix(got[0], "/api/data/v9.2/") || !strings.HasPrefix(got[1], "odoo http://127.0.0.1:") {
		t.Fatalf("printed %q", got)
	}
	dvURL := strings.TrimPrefix(got[0], "dataverse ")
	req, _ := http.NewRequest("GET", dvURL+"WhoAmI", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("WhoAmI: %v %v", resp, err)
	}
	resp.Body.Close()
	req.Header.Set("Authorization", "Bearer other")
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("WhoAmI with another token than --token-file's: %v %v", resp, err)
	}
	resp.Body.Close()
	if log := stderr.String(); !strings.Contains(log, "dataverse login: only the token given with --token-file") || strings.Contains(log, "tok\n") {
		t.Errorf("stderr does not say which token the server takes (or prints it):\n%s", log)
	}
	// The Odoo login is printed, but not a key that came from the environment.
	if log := stderr.String(); !strings.Contains(log, `odoo login: database "dvsync", user "admin", API key and password from $ODOO_API_KEY`) || strings.Contains(log, "odoo-secret-key") {
		t.Errorf("stderr does not give the Odoo login (or leaks the key):\n%s", log)
	}
	odooURL := strings.TrimPrefix(got[1], "odoo ")
	resp, err = http.Post(odooURL+"jsonrpc", "application/json",
		strings.NewReader(`{"jsonrpc":"2.0","method":"call","params":{"service":"common","method":"version","args":[]},"id":1}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("odoo common.version: %v %v", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "server_version") {
		t.Fatalf("odoo common.version: %s", body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after cancel", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop after cancel")
	}
}

func TestServeRefusesNonLoopback(t *testing.T) {
	streams := output.NewStreams(strings.NewReader(""), io.Discard, io.Discard)
	cmd := NewCommand(streams)
	cmd.SetArgs([]string{"--memory", "--listen", "0.0.0.0:0"})
	err := cmd.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("err = %v, want a loopback refusal", err)
	}
}

// syncBuffer is a bytes.Buffer safe for the server goroutine to write
// while the test reads.
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

// TestServeTakesNoTokenFlag: a token on the command line shows in ps
// (issue 13 item 7); it comes from --token-file or $DVSYNC_TOKEN only.
func TestServeTakesNoTokenFlag(t *testing.T) {
	cmd := NewCommand(output.NewStreams(strings.NewReader(""), io.Discard, io.Discard))
	cmd.SetArgs([]string{"--memory", "--listen", "127.0.0.1:0", "--token", "SECRET"})
	err := cmd.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), "unknown flag: --token") {
		t.Fatalf("--token: %v, want an unknown-flag error", err)
	}
}

// TestServeTokenFromEnvironment: $DVSYNC_TOKEN pins the accepted token.
func TestServeTokenFromEnvironment(t *testing.T) {
	t.Setenv("DVSYNC_TOKEN", "env-tok")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	cmd := NewCommand(output.NewStreams(strings.NewReader(""), pw, io.Discard))
	cmd.SetArgs([]string{"--memory", "--listen", "127.0.0.1:0"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	url := strings.TrimSpace(strings.TrimPrefix(line, "dataverse "))
	for tok, want := range map[string]int{"env-tok": 200, "other": 401} {
		req, _ := http.NewRequest("GET", url+"WhoAmI", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("token %s: status %d, want %d", tok, resp.StatusCode, want)
		}
	}
	cancel()
	<-done
}

// TestServeOdooSeedFromAnyFolder: outside a checkout the reference Odoo
// loads the seed built into the binary instead of starting empty.
func TestServeOdooSeedFromAnyFolder(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("ODOO_API_KEY", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	cmd := NewCommand(output.NewStreams(strings.NewReader(""), pw, io.Discard))
	cmd.SetArgs([]string{"--memory", "--listen", "127.0.0.1:0", "--odoo-listen", "127.0.0.1:0"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx); pw.Close() }()
	lines := bufio.NewScanner(pr)
	var odooURL string
	for odooURL == "" && lines.Scan() {
		if u, ok := strings.CutPrefix(lines.Text(), "odoo "); ok {
			odooURL = u
		}
	}
	go io.Copy(io.Discard, pr)
	call := func(service, method string, args ...any) any {
		body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": "call", "id": 1,
			"params": map[string]any{"service": service, "method": method, "args": args}})
		resp, err := http.Post(odooURL+"jsonrpc", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Result any `json:"result"`
			Error  any `json:"error"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Error != nil {
			t.Fatalf("%s.%s: %v %v", service, method, err, out.Error)
		}
		return out.Result
	}
	uid := call("common", "authenticate", "dvsync", "admin", "admin", map[string]any{})
	n := call("object", "execute_kw", "dvsync", uid, "admin", "helpdesk.ticket", "search_count", []any{[]any{}})
	if c, _ := n.(float64); c == 0 {
		t.Errorf("reference Odoo started outside a checkout has %v tickets, want the built-in seed's", n)
	}
	cancel()
	<-done
}
