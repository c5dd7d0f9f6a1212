package odooserver

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestPythonExternalAPIExample runs testdata/peers/odoo-external-api.check.py
// (Python's standard xmlrpc.client, following Odoo's External API
// documentation) against every version the reference server imitates.
// run.sh runs the same script against `dvsync serve`.
func TestPythonExternalAPIExample(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	for _, v := range []int{16, 17, 18, 19} {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			_, ts := newTestServer(t, Options{Version: v, SeedDir: seedDir, Now: time.Now})
			cmd := exec.Command(python, "../../testdata/peers/odoo-external-api.check.py")
			cmd.Env = append(os.Environ(), "ODOO_URL="+ts.URL, "ODOO_API_KEY="+testKey)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			t.Logf("%s", out)
		})
	}
}
