package output

import (
	"os"
	"path/filepath"

	"github.com/dvsync/dvsync/migrations/reportstyle"
)

// AtomicFile is an output file that appears under its name only when
// complete: writes go to a temporary file in the same directory, renamed on
// Commit. A failed or interrupted command never leaves a truncated file that
// looks finished.
type AtomicFile struct {
	*os.File
	path string
	done bool
}

// CreateAtomic starts an atomic file.
func CreateAtomic(path string) (*AtomicFile, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	// With the one file mode of every report and data file.
	f, err := reportstyle.CreatePartial(dir, base)
	if err != nil {
		return nil, err
	}
	return &AtomicFile{File: f, path: path}, nil
}

// Commit syncs and renames the file into place.
func (a *AtomicFile) Commit() error {
	if err := a.File.Sync(); err != nil {
		return err
	}
	if err := a.File.Close(); err != nil {
		return err
	}
	if err := os.Rename(a.File.Name(), a.path); err != nil {
		return err
	}
	a.done = true
	return nil
}

// Abort removes the temporary file unless Commit succeeded.
func (a *AtomicFile) Abort() {
	if a.done {
		return
	}
	a.File.Close()
	os.Remove(a.File.Name())
}

// WriteFileAtomic writes data to path atomically.
func WriteFileAtomic(path string, data []byte) error {
	f, err := CreateAtomic(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Commit()
}
