package compare

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dvsync/dvsync/migrations/reportstyle"
)

// RunToDir runs a comparison with its differences and unmatched records
// written into dir, then renders the report files there. meta carries
// the report's description of the sides; Result, Files and Generated are
// filled in.
func RunToDir(ctx context.Context, odoo, dataverse Source, o Options, dir string, meta Report) (*Report, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("output folder: %w", err)
	}
	var files []*os.File
	open := func(name string) *os.File {
		f, err := reportstyle.Create(filepath.Join(dir, name))
		if err != nil {
			return nil
		}
		files = append(files, f)
		return f
	}
	o.DifferencesCSV, o.DifferencesJSONL = open(FileDifferencesCSV), open(FileDifferencesJSONL)
	o.UnmatchedCSV, o.UnmatchedJSONL = open(FileUnmatchedCSV), open(FileUnmatchedJSONL)
	closeAll := func() error {
		var errs []error
		for _, f := range files {
			errs = append(errs, f.Close())
		}
		return errors.Join(errs...)
	}
	if len(files) != 4 {
		closeAll()
		return nil, fmt.Errorf("output folder %s is not writable", dir)
	}
	res, err := Run(ctx, odoo, dataverse, o)
	if cerr := closeAll(); err == nil && cerr != nil {
		err = fmt.Errorf("writing differences: %w", cerr)
	}
	if err != nil {
		return nil, err
	}
	meta.Result = res
	if meta.Generated.IsZero() {
		meta.Generated = time.Now()
	}
	if meta.Rules == nil {
		meta.Rules = RulesOf(o.Model)
	}
	if err := meta.Write(dir); err != nil {
		return nil, err
	}
	return &meta, nil
}
