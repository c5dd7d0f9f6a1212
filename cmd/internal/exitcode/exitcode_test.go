package exitcode

import (
	"errors"
	"fmt"
	"strings"
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

// A state of another environment is refused in one line that names the
// state, the mismatch (and so the environment the state belongs to), what
// the refusal spared and the command's own choices; other errors are left
// to the command.
func TestTargetMismatch(t *testing.T) {
	a := migrations.TargetInfo{ID: "org-a", URL: "https://a.crm4.dynamics.com/"}
	b := migrations.TargetInfo{ID: "org-b", URL: "https://b.crm4.dynamics.com/"}
	help := OtherEnvironment{State: "state.db", Spared: "nothing was written",
		Choices: []string{"start over with --fresh", "point --env at the environment this state belongs to"}}
	for _, c := range []struct {
		name     string
		mismatch *migrations.TargetMismatchError
		want     string
	}{
		{"another organisation", &migrations.TargetMismatchError{Job: "odoo/x", Recorded: a, Current: b},
			"state.db: the state of job odoo/x belongs to https://a.crm4.dynamics.com/ (organisation org-a), not to https://b.crm4.dynamics.com/ (organisation org-b); " +
				"nothing was written: start over with --fresh, or point --env at the environment this state belongs to"},
		{"reset in place", &migrations.TargetMismatchError{Job: "odoo/x", Recorded: a, Current: a, Step: "contacts", Missing: 3},
			"state.db: the state of job odoo/x does not match https://a.crm4.dynamics.com/: none of the 3 records its last checkpoint of step contacts wrote is there (the environment was reset or replaced since); " +
				"nothing was written: start over with --fresh, or point --env at the environment this state belongs to"},
		{"reset, reached at another URL", &migrations.TargetMismatchError{Job: "odoo/x", Recorded: a, Current: migrations.TargetInfo{ID: "org-a", URL: "https://a2.example/"}, Step: "contacts", Missing: 3},
			"state.db: the state of job odoo/x does not match https://a2.example/: none of the 3 records its last checkpoint of step contacts wrote is there (the environment was reset or replaced since); " +
				"the state was written to https://a.crm4.dynamics.com/; nothing was written: start over with --fresh, or point --env at the environment this state belongs to"},
	} {
		err := TargetMismatch(fmt.Errorf("odoojob: %w", c.mismatch), help)
		if code(err) != Failure {
			t.Errorf("%s: code %d, want %d", c.name, code(err), Failure)
		}
		if err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got %v\nwant %s", c.name, err, c.want)
		}
		if !errors.Is(err, c.mismatch) {
			t.Errorf("%s: the exit does not wrap the mismatch", c.name)
		}
	}

	m := &migrations.TargetMismatchError{Job: "j", Recorded: a, Current: b}
	if got := TargetMismatch(m, OtherEnvironment{State: "s", Choices: []string{"x"}}).Error(); !strings.HasSuffix(got, "org-b): x") {
		t.Errorf("one choice, nothing spared: %s", got)
	}
	if got := TargetMismatch(m, OtherEnvironment{State: "s", Choices: []string{"x", "y", "z"}}).Error(); !strings.HasSuffix(got, ": x, y, or z") {
		t.Errorf("three choices: %s", got)
	}
	for _, err := range []error{nil, errors.New("dataverse: cannot reach"), &migrations.JobRunningError{Job: "j", Path: "s.db"}} {
		if got := TargetMismatch(err, help); got != nil {
			t.Errorf("TargetMismatch(%v) = %v, want nil", err, got)
		}
	}
}
