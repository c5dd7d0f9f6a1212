package output

import (
	"fmt"
	"path/filepath"
	"strings"
)

// FileFormat is the record file format of --format flag for path: jsonl
// or csv, from the file's extension when the flag is empty.
func FileFormat(flag, path string) (string, error) {
	f := strings.ToLower(flag)
	if f == "" {
		if strings.EqualFold(filepath.Ext(path), ".csv") {
			return "csv", nil
		}
		return "jsonl", nil
	}
	if f != "jsonl" && f != "csv" {
		return "", fmt.Errorf("unknown format %q: use jsonl or csv", flag)
	}
	return f, nil
}
