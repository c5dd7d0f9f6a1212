package odoojob

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"

	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/reportstyle"
)

// Endpoints names the Odoo database and the Dataverse environment for
// reports: their URLs without credentials, and the database.
func (c Config) Endpoints() (source, target migrations.Endpoint) {
	return migrations.NewEndpoint("Odoo helpdesk", c.OdooURL, c.Database), migrations.NewEndpoint("Dynamics 365 (Dataverse)", c.DataverseURL, "")
}

// Report file names of a migration run.
const (
	ReportHTML = "migration.html"
	ReportJSON = "migration.json"
)

// WriteFiles writes the run's report into dir: migration.html, the page
// to show (migrations.RunReport), and migration.json, this Result, each
// replaced atomically. It returns their paths.
func (r Result) WriteFiles(dir string) (htmlPath, jsonPath string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	htmlPath, jsonPath = filepath.Join(dir, ReportHTML), filepath.Join(dir, ReportJSON)
	if err := reportstyle.WriteFile(htmlPath, r.WriteHTML); err != nil {
		return "", "", err
	}
	err = reportstyle.WriteFile(jsonPath, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(r)
	})
	if err != nil {
		return "", "", err
	}
	return htmlPath, jsonPath, nil
}

// WriteHTML writes the run's report page (migrations.RunReport).
func (r Result) WriteHTML(w io.Writer) error {
	rep := &migrations.RunReport{Title: "Odoo helpdesk migration", Summary: r.Summary, Source: r.Source, Target: r.Target,
		Files: migrations.Files{Rejects: r.Rejects, Skips: r.Skips, Warnings: r.Warnings}}
	return rep.WriteHTML(w)
}
