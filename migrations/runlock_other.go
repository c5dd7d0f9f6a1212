//go:build !unix

package migrations

import "os"

// lockFile only creates the lock file where flock is unavailable: two
// processes running the same job on one state file are then not detected.
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}

func unlockFile(f *os.File) error { return f.Close() }
