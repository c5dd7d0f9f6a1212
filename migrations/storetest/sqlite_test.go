package storetest_test

import (
	"path/filepath"
	"testing"

	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/storetest"
)

func TestSQLiteStoreConforms(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Backing {
		path := filepath.Join(t.TempDir(), "state.db")
		return func(t *testing.T) migrations.Store {
			s, err := migrations.OpenSQLite(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	}, storetest.ErrorAs[*migrations.JobRunningError])
}
