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
