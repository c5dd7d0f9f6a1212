package migrateodoo

import (
	"errors"
	"testing"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/migrations/odoojob/odoojobtest"
)

const (
	dvToken = odoojobtest.DVToken
	odooKey = odoojobtest.OdooKey
)

type servers struct {
	dvURL, odooURL string
	dv             *dataverse.Client
}

func startServers(t testing.TB, seedDir string) *servers {
	t.Helper()
	s := odoojobtest.Start(t, seedDir, nil)
	return &servers{dvURL: s.DVURL, odooURL: s.OdooURL, dv: s.DV}
}

func smallSeed(t testing.TB, n int) string { return odoojobtest.SmallSeed(t, n) }

// exitCode is the process exit code err stands for.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *output.ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return 1
}
