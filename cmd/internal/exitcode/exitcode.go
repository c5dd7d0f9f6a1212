// Package exitcode is the one set of exit codes dvsync commands share, so
// a script can tell "nothing happened" from "finished, but look at the
// rejects":
//
//	0  success: everything written, unchanged or skipped with a reason
//	1  failure: the run stopped (unreachable, unauthorised, interrupted …)
//	2  usage error: bad flags or arguments; nothing was done
//	3  finished with rejects (or, for verify, mismatches): never "OK"
//	4  another run holds the lock on the same job and state file
//
// Commands return these as *output.ExitError, which root.Execute turns
// into the process exit code.
package exitcode

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/migrations"
)

// The documented codes.
const (
	OK      = 0
	Failure = 1
	Usage   = 2
	Rejects = 3
	Locked  = 4
)

// UsageError marks err as a usage error (exit 2).
func UsageError(err error) error {
	if err == nil {
		return nil
	}
	return &output.ExitError{Code: Usage, Err: err}
}

// Finished is the exit of a command that ran to the end: 0, or 3 with
// msg when rejected or mismatched records remain.
func Finished(problems int64, msg string) error {
	if problems == 0 {
		return nil
	}
	return &output.ExitError{Code: Rejects, Err: errors.New(msg)}
}

// Of is the exit of a command that stopped with err: 4 when another run
// holds the job's lock, 1 otherwise. An error that already carries a code
// keeps it.
func Of(err error) error {
	if err == nil {
		return nil
	}
	var ee *output.ExitError
	if errors.As(err, &ee) {
		return err
	}
	var running *migrations.JobRunningError
	if errors.As(err, &running) {
		return &output.ExitError{Code: Locked, Err: err}
	}
	return &output.ExitError{Code: Failure, Err: err}
}

// OtherEnvironment is what a command tells the user when its state
// belongs to another environment than the one it was pointed at.
type OtherEnvironment struct {
	// State names the state store, as statestore.Describe does: never
	// with its password.
	State string
	// Spared says what the refusal left undone, e.g. "nothing was
	// written"; empty says nothing.
	Spared string
	// Choices are the user's ways on, in the command's own flags, the
	// likeliest first: "start over with --fresh", "point --env at the
	// environment this state belongs to".
	Choices []string
}

// TargetMismatch is the exit of a command refused because its state
// belongs to another environment: when err holds a
// *migrations.TargetMismatchError, exit 1 with one line naming the state,
// the mismatch, what was spared and the choices; nil for any other err
// (nil included), which the command handles as before.
func TargetMismatch(err error, o OtherEnvironment) error {
	var mismatch *migrations.TargetMismatchError
	if !errors.As(err, &mismatch) {
		return nil
	}
	var tail strings.Builder
	// A missing-records mismatch names only this run's environment; the
	// one the state was written to, when it was reached at another URL,
	// is where the user may want to point the command instead.
	if mismatch.Step != "" && mismatch.Recorded.URL != "" && mismatch.Recorded.URL != mismatch.Current.URL {
		fmt.Fprintf(&tail, "; the state was written to %s", mismatch.Recorded.URL)
	}
	if o.Spared != "" {
		tail.WriteString("; " + o.Spared)
	}
	if len(o.Choices) > 0 {
		tail.WriteString(": " + oneOf(o.Choices))
	}
	return &output.ExitError{Code: Failure, Err: fmt.Errorf("%s: %w%s", o.State, mismatch, tail.String())}
}

// oneOf joins choices as a sentence does: "a", "a, or b", "a, b, or c".
func oneOf(choices []string) string {
	if len(choices) == 1 {
		return choices[0]
	}
	return strings.Join(choices[:len(choices)-1], ", ") + ", or " + choices[len(choices)-1]
}
