package serve

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dvsync/dvsync/cmd/internal/output"
)

func TestServePrintsOneLinePerServiceAndStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	streams := output.NewStreams(strings.NewReader(""), pw, io.Discard)
	cmd := NewCommand(streams)
	cmd.SetArgs([]string{"--memory", "--listen", "127.0.0.1:0", "--odoo-listen", "127.0.0.1:0", "--odoo-seed", "", "--token", "tok"})
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
