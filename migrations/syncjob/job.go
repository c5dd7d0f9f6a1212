// Package syncjob runs `dvsync sync` jobs: a source read incrementally
// (Dataverse change tracking, or a modifiedon watermark where change
// tracking is off) into a target (a SQLite or PostgreSQL mirror), again and
// again, losing nothing: every page read is checkpointed once applied, an
// expired delta token re-baselines by itself, and one run at a time holds
// the job's lock.
package syncjob

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Job is a parsed and validated job file.
type Job struct {
	// Name identifies the job in the state store and the lock.
	Name   string
	Source Endpoint
	Target Endpoint
	// Tables are the Dataverse tables to sync (Dataverse sources).
	Tables []TableSpec
	// Map is the Odoo → Dataverse map file (Odoo sources), resolved
	// against the job file's folder.
	Map string
	// Overlap is how far back a modifiedon watermark re-reads, for rows
	// whose transaction committed after the previous run read past them.
	Overlap time.Duration
	// PageSize is odata.maxpagesize for reads (default 5,000, the most
	// Dataverse serves), or the Odoo page size.
	PageSize int
	// DeletedTickets says what becomes of the case of a ticket deleted in
	// Odoo: cancel (default), delete or keep.
	DeletedTickets string
	// File is the job file's path; Dir its folder.
	File, Dir string
}

// Endpoint is one side of a job; exactly one field is set.
type Endpoint struct {
	Dataverse *DataverseEndpoint
	Odoo      *OdooEndpoint
	SQLite    string
	Postgres  string
}

// Kind names the endpoint: dataverse, odoo, sqlite or postgres.
func (e Endpoint) Kind() string {
	switch {
	case e.Dataverse != nil:
		return "dataverse"
	case e.Odoo != nil:
		return "odoo"
	case e.SQLite != "":
		return "sqlite"
	case e.Postgres != "":
		return "postgres"
	}
	return ""
}

// DataverseEndpoint names an environment. Credentials come from the
// environment (DVSYNC_TOKEN, AZURE_*), never from the job file.
type DataverseEndpoint struct {
	Env string
	// Auth is a credential kind as --auth takes it (default: token when
	// DVSYNC_TOKEN is set, otherwise DefaultAzureCredential).
	Auth string
}

// OdooEndpoint names an Odoo database; the key is read from ODOO_API_KEY.
type OdooEndpoint struct {
	URL, DB, User string
}

// TableSpec is one table of a Dataverse source.
type TableSpec struct {
	Name string
	// Columns limits the mirrored columns; empty means all.
	Columns []string
	Line    int
}

// JobError is a problem in a job file, located by line and key.
type JobError struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *JobError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Key != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Key, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// LoadJob reads and validates a job file.
func LoadJob(path string) (*Job, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("job file: %w", err)
	}
	return ParseJob(path, data)
}

// ParseJob validates a job file's text; path is used in messages and to
// resolve relative paths.
func ParseJob(path string, data []byte) (*Job, error) {
	p := &jobParser{file: path}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, &JobError{File: path, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, &JobError{File: path, Line: max(doc.Line, 1), Msg: "a job file is a mapping with name, source, target and tables (or map)"}
	}
	j := &Job{File: path, Dir: filepath.Dir(path), PageSize: 5000, Overlap: 5 * time.Minute, DeletedTickets: DeletedCancel}
	root := doc.Content[0]
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] != nil {
			return nil, p.err(k, k.Value, "appears twice")
		}
		seen[k.Value] = v
		var err error
		switch k.Value {
		case "name":
			j.Name, err = p.str(v, "name")
			if err == nil && !nameRE.MatchString(j.Name) {
				err = p.err(v, "name", "must be letters, digits, '.', '_' or '-' (it names the job's lock and state)")
			}
		case "source":
			j.Source, err = p.endpoint(v, "source")
		case "target":
			j.Target, err = p.endpoint(v, "target")
		case "tables":
			j.Tables, err = p.tables(v)
		case "map":
			j.Map, err = p.str(v, "map")
			if err == nil && !filepath.IsAbs(j.Map) {
				j.Map = filepath.Join(j.Dir, j.Map)
			}
		case "overlap":
			var s string
			if s, err = p.str(v, "overlap"); err == nil {
				j.Overlap, err = time.ParseDuration(s)
				if err != nil || j.Overlap < 0 {
					err = p.err(v, "overlap", fmt.Sprintf("%q is not a duration such as 5m or 1h", s))
				}
			}
		case "page_size":
			var n int
			if err = v.Decode(&n); err != nil || n < 1 || n > 5000 {
				err = p.err(v, "page_size", "must be a whole number from 1 to 5000 (Dataverse serves at most 5,000 rows a page)")
			}
			j.PageSize = n
		case "deleted_tickets":
			j.DeletedTickets, err = p.str(v, "deleted_tickets")
			if err == nil && j.DeletedTickets != DeletedCancel && j.DeletedTickets != DeletedDelete && j.DeletedTickets != DeletedKeep {
				err = p.err(v, "deleted_tickets", fmt.Sprintf("%q: want cancel, delete or keep", j.DeletedTickets))
			}
		default:
			err = p.err(k, k.Value, "unknown key (known: name, source, target, tables, map, overlap, page_size, deleted_tickets)")
		}
		if err != nil {
			return nil, err
		}
	}
	for _, req := range []string{"name", "source", "target"} {
		if seen[req] == nil {
			return nil, &JobError{File: path, Line: root.Line, Key: req, Msg: "missing"}
		}
	}
	src, dst := j.Source.Kind(), j.Target.Kind()
	switch {
	case src == "sqlite" || src == "postgres":
		return nil, p.err(seen["source"], "source", "must be dataverse or odoo (databases are targets)")
	case dst == "odoo":
		return nil, p.err(seen["target"], "target", "must be sqlite, postgres or dataverse (Odoo is read, never written)")
	case src == "odoo" && dst != "dataverse":
		return nil, p.err(seen["target"], "target", "an odoo source syncs into dataverse")
	case src == "odoo" && j.Map == "":
		return nil, &JobError{File: path, Line: root.Line, Key: "map", Msg: "missing: an odoo source needs the map file of `dvsync migrate odoo`"}
	case src == "odoo" && seen["tables"] != nil:
		return nil, p.err(seen["tables"], "tables", "an odoo source takes its tables from the map file")
	case src != "odoo" && seen["deleted_tickets"] != nil:
		return nil, p.err(seen["deleted_tickets"], "deleted_tickets", "only an odoo source has tickets")
	case src == "dataverse" && j.Map != "":
		return nil, p.err(seen["map"], "map", "only an odoo source takes a map file")
	case src == "dataverse" && len(j.Tables) == 0:
		return nil, &JobError{File: path, Line: root.Line, Key: "tables", Msg: "missing: list the Dataverse tables to sync, e.g. tables: [incident, sla]"}
	case src == "dataverse" && dst == "dataverse" && sameEnv(j.Source.Dataverse.Env, j.Target.Dataverse.Env):
		return nil, p.err(seen["target"], "target", "is the source environment itself")
	}
	if j.Target.SQLite != "" && !filepath.IsAbs(j.Target.SQLite) {
		// Relative to the job file, not to wherever cron starts the run.
		j.Target.SQLite = filepath.Join(j.Dir, j.Target.SQLite)
	}
	return j, nil
}

func sameEnv(a, b string) bool {
	return strings.TrimRight(strings.ToLower(a), "/") == strings.TrimRight(strings.ToLower(b), "/")
}

type jobParser struct{ file string }

func (p *jobParser) err(n *yaml.Node, key, msg string) error {
	return &JobError{File: p.file, Line: n.Line, Key: key, Msg: msg}
}

func (p *jobParser) str(n *yaml.Node, key string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || strings.TrimSpace(n.Value) == "" {
		return "", p.err(n, key, "must be a non-empty text value")
	}
	return n.Value, nil
}

// secretKeys are refused anywhere in a job file: job files are committed to
// repositories and copied into ConfigMaps; secrets come from the
// environment.
var secretKeys = map[string]string{
	"password": "", "secret": "", "token": "", "api_key": "", "apikey": "", "key": "", "client_secret": "",
}

func (p *jobParser) endpoint(n *yaml.Node, key string) (Endpoint, error) {
	var e Endpoint
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		return e, p.err(n, key, "must hold exactly one of dataverse, odoo, sqlite or postgres")
	}
	k, v := n.Content[0], n.Content[1]
	path := key + "." + k.Value
	switch k.Value {
	case "dataverse":
		fields, err := p.fields(v, path, "env", "auth")
		if err != nil {
			return e, err
		}
		d := &DataverseEndpoint{Env: fields["env"], Auth: fields["auth"]}
		if d.Env == "" {
			return e, p.err(v, path+".env", "missing: the environment URL, e.g. https://org.crm.dynamics.com")
		}
		if u, err := url.Parse(d.Env); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return e, p.err(v, path+".env", fmt.Sprintf("%q is not an http(s) URL", d.Env))
		}
		e.Dataverse = d
	case "odoo":
		fields, err := p.fields(v, path, "url", "db", "user")
		if err != nil {
			return e, err
		}
		o := &OdooEndpoint{URL: fields["url"], DB: fields["db"], User: fields["user"]}
		for _, req := range []string{"url", "db", "user"} {
			if fields[req] == "" {
				return e, p.err(v, path+"."+req, "missing")
			}
		}
		if u, err := url.Parse(o.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return e, p.err(v, path+".url", fmt.Sprintf("%q is not an http(s) URL", o.URL))
		}
		e.Odoo = o
	case "sqlite":
		s, err := p.str(v, path)
		if err != nil {
			return e, p.err(v, path, "must be the database file name, e.g. sqlite: cs-mirror.db")
		}
		e.SQLite = s
	case "postgres":
		s, err := p.str(v, path)
		if err != nil {
			return e, err
		}
		u, perr := url.Parse(s)
		if perr != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return e, p.err(v, path, "must be a postgres://user@host/db URL")
		}
		if _, has := u.User.Password(); has {
			return e, p.err(v, path, "holds a password: remove it and set PGPASSWORD (or use ~/.pgpass); secrets never go in job files")
		}
		e.Postgres = s
	default:
		return e, p.err(k, path, "unknown endpoint (known: dataverse, odoo, sqlite, postgres)")
	}
	return e, nil
}

// fields reads a flat mapping of text values limited to allowed keys.
func (p *jobParser) fields(n *yaml.Node, path string, allowed ...string) (map[string]string, error) {
	if n.Kind != yaml.MappingNode {
		return nil, p.err(n, path, "must be a mapping such as {"+allowed[0]+": …}")
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if _, bad := secretKeys[strings.ToLower(k.Value)]; bad {
			return nil, p.err(k, path+"."+k.Value, "secrets never go in job files; set them in the environment (DVSYNC_TOKEN, AZURE_CLIENT_SECRET, ODOO_API_KEY)")
		}
		ok := false
		for _, a := range allowed {
			ok = ok || a == k.Value
		}
		if !ok {
			return nil, p.err(k, path+"."+k.Value, "unknown key (known: "+strings.Join(allowed, ", ")+")")
		}
		s, err := p.str(v, path+"."+k.Value)
		if err != nil {
			return nil, err
		}
		out[k.Value] = s
	}
	return out, nil
}

func (p *jobParser) tables(n *yaml.Node) ([]TableSpec, error) {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return nil, p.err(n, "tables", "must be a non-empty list, e.g. [incident, sla]")
	}
	var out []TableSpec
	seen := map[string]bool{}
	for i, item := range n.Content {
		key := fmt.Sprintf("tables[%d]", i)
		var ts TableSpec
		switch item.Kind {
		case yaml.ScalarNode:
			ts = TableSpec{Name: item.Value, Line: item.Line}
		case yaml.MappingNode:
			ts.Line = item.Line
			for j := 0; j+1 < len(item.Content); j += 2 {
				k, v := item.Content[j], item.Content[j+1]
				switch k.Value {
				case "name":
					s, err := p.str(v, key+".name")
					if err != nil {
						return nil, err
					}
					ts.Name = s
				case "columns":
					if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
						return nil, p.err(v, key+".columns", "must be a non-empty list of column logical names")
					}
					for _, c := range v.Content {
						s, err := p.str(c, key+".columns")
						if err != nil {
							return nil, err
						}
						if !identRE.MatchString(s) {
							return nil, p.err(c, key+".columns", fmt.Sprintf("%q is not a column logical name", s))
						}
						ts.Columns = append(ts.Columns, s)
					}
				default:
					return nil, p.err(k, key+"."+k.Value, "unknown key (known: name, columns)")
				}
			}
		default:
			return nil, p.err(item, key, "must be a table logical name or {name: …, columns: […]}")
		}
		if !identRE.MatchString(ts.Name) {
			return nil, p.err(item, key, fmt.Sprintf("%q is not a table logical name (lower-case letters, digits, _)", ts.Name))
		}
		if seen[ts.Name] {
			return nil, p.err(item, key, fmt.Sprintf("table %s is listed twice", ts.Name))
		}
		seen[ts.Name] = true
		out = append(out, ts)
	}
	return out, nil
}

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,127}$`)

// ErrNotSupported marks job forms this build validates but cannot run.
var ErrNotSupported = errors.New("not supported")
