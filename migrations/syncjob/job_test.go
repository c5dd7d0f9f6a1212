package syncjob_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dvsync/dvsync/migrations/syncjob"
)

// The two forms of the issue, exactly as written, and Dataverse →
// Dataverse.
func TestParseJobIssueForms(t *testing.T) {
	mirrorJob := `name: reporting-copy
source:
  dataverse: {env: https://org.crm.dynamics.com}
target:
  sqlite: cs-mirror.db          # or  postgres: postgres://user@host/db
tables: [incident, entitlement, entitlementchannel, sla, slaitem, knowledgearticle]
`
	j, err := syncjob.ParseJob("/jobs/reporting-copy.yaml", []byte(mirrorJob))
	if err != nil {
		t.Fatal(err)
	}
	if j.Name != "reporting-copy" || j.Source.Dataverse.Env != "https://org.crm.dynamics.com" || j.Target.SQLite != filepath.FromSlash("/jobs/cs-mirror.db") ||
		len(j.Tables) != 6 || j.Tables[5].Name != "knowledgearticle" || j.PageSize != 5000 || j.Overlap != 5*time.Minute {
		t.Fatalf("%+v", j)
	}
	pg := strings.Replace(mirrorJob, "sqlite: cs-mirror.db", "postgres: postgres://user@host/db", 1)
	if j, err = syncjob.ParseJob("j.yaml", []byte(pg)); err != nil || j.Target.Postgres != "postgres://user@host/db" {
		t.Fatalf("%+v %v", j, err)
	}

	odooJob := `name: odoo-parallel-run
source:
  odoo: {url: https://odoo.example.com, db: prod, user: sync@example.com}
target:
  dataverse: {env: https://org.crm.dynamics.com}
map: odoo-map.yaml              # the same map file as ` + "`dvsync migrate odoo`" + `
`
	j, err = syncjob.ParseJob("/jobs/odoo.yaml", []byte(odooJob))
	if err != nil {
		t.Fatal(err)
	}
	if j.Source.Odoo.DB != "prod" || j.Source.Odoo.User != "sync@example.com" || j.Target.Dataverse.Env != "https://org.crm.dynamics.com" || j.Map != filepath.FromSlash("/jobs/odoo-map.yaml") {
		t.Fatalf("%+v", j)
	}

	dvdv := `name: prod-to-test
source:
  dataverse: {env: https://prod.crm.dynamics.com}
target:
  dataverse: {env: https://test.crm.dynamics.com, auth: client-secret}
tables:
  - sla
  - {name: entitlementtemplate, columns: [name, totalterms]}
`
	if j, err = syncjob.ParseJob("d.yaml", []byte(dvdv)); err != nil || j.Target.Dataverse.Auth != "client-secret" || len(j.Tables[1].Columns) != 2 {
		t.Fatalf("%+v %v", j, err)
	}
}

func TestParseJobErrorsNameLineAndKey(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"unknown top key", "name: x\nsource:\n  dataverse: {env: https://o.crm.dynamics.com}\ntarget:\n  sqlite: m.db\ntables: [incident]\ntabels: [sla]\n", "j.yaml:7: tabels: unknown key"},
		{"misspelt endpoint", "name: x\nsource:\n  dataverse: {env: https://o.crm.dynamics.com}\ntarget:\n  sqlit: m.db\ntables: [incident]\n", "j.yaml:5: target.sqlit: unknown endpoint"},
		{"missing tables", "name: x\nsource:\n  dataverse: {env: https://o.crm.dynamics.com}\ntarget:\n  sqlite: m.db\n", "j.yaml:1: tables: missing"},
		{"missing name", "source:\n  dataverse: {env: https://o.crm.dynamics.com}\ntarget:\n  sqlite: m.db\ntables: [incident]\n", "j.yaml:1: name: missing"},
		{"bad env", "name: x\nsource:\n  dataverse: {env: org.crm.dynamics.com}\ntarget:\n  sqlite: m.db\ntables: [incident]\n", "j.yaml:3: source.dataverse.env: \"org.crm.dynamics.com\" is not an http(s) URL"},
		{"secret in file", "name: x\nsource:\n  odoo: {url: https://o.example.com, db: p, user: u, password: hunter2}\ntarget:\n  dataverse: {env: https://o.crm.dynamics.com}\nmap: m.yaml\n", "j.yaml:3: source.odoo.password: secrets never go in job files"},
		{"password in postgres url", "name: x\nsource:\n  dataverse: {env: https://o.crm.dynamics.com}\ntarget:\n  postgres: postgres://u:pw@h/db\ntables: [incident]\n", "j.yaml:5: target.postgres: holds a password"},
		{"odoo without map", "name: x\nsource:\n  odoo: {url: https://o.example.com, db: p, user: u}\ntarget:\n  dataverse: {env: https://o.crm.dynamics.com}\n", "j.yaml:1: map: missing"},
		{"odoo into sqlite", "name: x\nsource:\n  odoo: {url: https://o.example.com, db: p, user: u}\ntarget:\n  sqlite: m.db\nmap: m.yaml\n", "j.yaml:5: target: an odoo source syncs into dataverse"},
		{"table twice", "name: x\nsource:\n  dataverse: {env: https://o.crm.dynamics.com}\ntarget:\n  sqlite: m.db\ntables:\n  - incident\n  - incident\n", "j.yaml:8: tables[1]: table incident is listed twice"},
		{"bad table name", "name: x\nsource:\n  dataverse: {env: https://o.crm.dynamics.com}\ntarget:\n  sqlite: m.db\ntables: [Incident]\n", "j.yaml:6: tables[0]: \"Incident\" is not a table logical name"},
		{"page size", "name: x\nsource:\n  dataverse: {env: https://o.crm.dynamics.com}\ntarget:\n  sqlite: m.db\ntables: [incident]\npage_size: 9000\n", "j.yaml:7: page_size: must be a whole number from 1 to 5000"},
		{"bad overlap", "name: x\nsource:\n  dataverse: {env: https://o.crm.dynamics.com}\ntarget:\n  sqlite: m.db\ntables: [incident]\noverlap: soon\n", "j.yaml:7: overlap: \"soon\" is not a duration"},
		{"bad name", "name: a b\nsource:\n  dataverse: {env: https://o.crm.dynamics.com}\ntarget:\n  sqlite: m.db\ntables: [incident]\n", "j.yaml:1: name: must be letters"},
		{"same environment", "name: x\nsource:\n  dataverse: {env: https://o.crm.dynamics.com}\ntarget:\n  dataverse: {env: https://o.crm.dynamics.com/}\ntables: [sla]\n", "j.yaml:5: target: is the source environment itself"},
		{"not yaml", "name: [x\n", "j.yaml: not valid YAML"},
		{"key twice", "name: x\nname: y\n", "j.yaml:2: name: appears twice"},
		{"deleted tickets value", "name: x\nsource:\n  odoo: {url: https://o.example.com, db: p, user: u}\ntarget:\n  dataverse: {env: https://o.crm.dynamics.com}\nmap: m.yaml\ndeleted_tickets: purge\n", "j.yaml:7: deleted_tickets: \"purge\": want cancel, delete or keep"},
		{"deleted tickets without odoo", "name: x\nsource:\n  dataverse: {env: https://o.crm.dynamics.com}\ntarget:\n  sqlite: m.db\ntables: [incident]\ndeleted_tickets: keep\n", "j.yaml:7: deleted_tickets: only an odoo source has tickets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := syncjob.ParseJob("j.yaml", []byte(tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

// The job files shipped in deploy/ are valid.
func TestDeployJobFilesParse(t *testing.T) {
	if _, err := syncjob.LoadJob(filepath.Join("..", "..", "deploy", "jobs", "reporting-copy.yaml")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kubernetes", "cronjob.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	found := false
	for {
		var doc struct {
			Kind string            `yaml:"kind"`
			Data map[string]string `yaml:"data"`
		}
		if err := dec.Decode(&doc); err != nil {
			break
		}
		if doc.Kind == "ConfigMap" {
			found = true
			if _, err := syncjob.ParseJob("configmap job.yaml", []byte(doc.Data["job.yaml"])); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !found {
		t.Fatal("no ConfigMap with the job file in deploy/kubernetes/cronjob.yaml")
	}
}
