package exitcode

import (
	"errors"
	"fmt"
	"testing"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/migrations"
)

func code(err error) int {
	if err == nil {
		return 0
	}
	var ee *output.ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return -1
}

func TestCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{Finished(0, "x"), OK},
		{Finished(6, "6 records rejected"), Rejects},
		{UsageError(errors.New("--batch-size must be positive")), Usage},
		{Of(errors.New("dataverse: cannot reach")), Failure},
		{Of(fmt.Errorf("run: %w", &migrations.JobRunningError{Job: "odoo/x", Path: "s.db"})), Locked},
		{Of(UsageError(errors.New("u"))), Usage},
	} {
		if got := code(c.err); got != c.want {
			t.Errorf("%v: code %d, want %d", c.err, got, c.want)
		}
	}
	if Finished(0, "") != nil || Of(nil) != nil || UsageError(nil) != nil {
		t.Error("nil in, nil out")
	}
}
