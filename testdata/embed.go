// Package testdata carries the fixtures `dvsync demo` runs on inside the
// binary, so that the demo works from any folder after `go install`: the
// reference Dataverse and Odoo seeds, the sample Unified Service Desk export
// and the demo's Odoo mapping. The package sits beside the files because
// //go:embed cannot reach a parent folder.
package testdata

import (
	"embed"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/dvsync/dvsync/migrations/reportstyle"
)

//go:embed dataverse/seed/*.json odoo/seed/*.jsonl usd/contoso.zip odoodv/demo-map.yaml odoodv/demo-users.csv
var files embed.FS

// Paths of the demo fixtures inside FS.
const (
	DataverseSeed = "dataverse/seed"
	OdooSeed      = "odoo/seed"
	USD           = "usd/contoso.zip"
	DemoMap       = "odoodv/demo-map.yaml"
)

// FS returns the embedded fixtures, laid out as in this folder.
func FS() fs.FS { return files }

// ExtractDir writes the embedded folder dir (one of DataverseSeed, OdooSeed)
// into a new folder under parent and returns its path. The reference
// servers load their seeds from folders; the caller removes parent. The
// files get the mode of every data file dvsync writes (reportstyle).
func ExtractDir(dir, parent string) (string, error) {
	out := filepath.Join(parent, filepath.FromSlash(dir))
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	entries, err := fs.ReadDir(files, dir)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := fs.ReadFile(files, dir+"/"+e.Name())
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(out, e.Name()), b, reportstyle.FileMode); err != nil {
			return "", err
		}
	}
	return out, nil
}
