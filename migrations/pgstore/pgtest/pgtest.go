// Package pgtest gives tests the PostgreSQL server of DVSYNC_TEST_POSTGRES
// (.ci/run starts one) and schemas of their own in it, so tests of several
// packages share the server without seeing each other's tables.
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// URL returns DVSYNC_TEST_POSTGRES. Without it the test is skipped, or
// failed when CI is set: CI must start PostgreSQL and export it.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("DVSYNC_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but DVSYNC_TEST_POSTGRES is not: .ci/run must start PostgreSQL and export it")
		}
		t.Skip("DVSYNC_TEST_POSTGRES is not set: this test needs a PostgreSQL server (see .ci/run)")
	}
	return base
}

// Schemas returns one new schema name per role, "<prefix>_<role>_<unique>",
// each dropped with everything in it when the test ends.
func Schemas(t testing.TB, base, prefix string, roles ...string) []string {
	t.Helper()
	suffix := fmt.Sprintf("%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = prefix + "_" + r + "_" + suffix
	}
	t.Cleanup(func() {
		ctx := context.Background()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		for _, s := range names {
			c.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{s}.Sanitize()+` CASCADE`)
		}
	})
	return names
}

// SearchPath returns base with its search_path set to schema: a --state
// URL whose tables live in that schema.
func SearchPath(t testing.TB, base, schema string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("DVSYNC_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
