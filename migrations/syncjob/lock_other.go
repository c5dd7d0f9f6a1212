//go:build !unix

package syncjob

import (
	"errors"
	"fmt"
	"os"
)

// lockFile creates path exclusively. Unlike flock it survives a crash, so
// the error names the file to remove.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("%w (if no run is active, remove %s)", ErrLocked, path)
	}
	return f, err
}
