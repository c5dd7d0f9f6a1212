// Package fixturegen writes the USD configuration exports under
// testdata/usd/ in the Configuration Migration Tool format. The exports are
// written for this project (no public USD data.xml sample exists); they
// follow the CMT layout documented by community tooling
// (github.com/amervitz/CrmDataPackager) and the USD tables of the
// Dynamics-Crm-DevKit generated entities.
//
// Everything is deterministic: ids are name-based UUIDs, timestamps fixed,
// zip entries stored in a fixed order with a fixed modification time.
package fixturegen

import (
	"archive/zip"
	"bytes"
	"crypto/sha1"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ID returns a stable GUID for a row: a version-5-style UUID of the table
// and name, so that fixtures keep their ids when regenerated.
func ID(entity, name string) string {
	h := sha1.Sum([]byte("dvsync-usd-fixture/" + entity + "/" + name))
	h[6] = (h[6] & 0x0f) | 0x50
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// Value is one field of a record.
type Value struct {
	Field, Value, Lookup string
}

// Rec is one record.
type Rec struct {
	ID     string
	Fields []Value
}

// M2M is one membership list in CMT form.
type M2M struct {
	Relationship string
	SourceID     string
	TargetEntity string
	TargetIDs    []string
}

// Entity is the records of one table.
type Entity struct {
	Name    string
	Display string
	Records []*Rec
	M2M     []*M2M
}

// Export is a whole configuration export.
type Export struct {
	entities []*Entity
	byName   map[string]*Entity
}

func newExport() *Export { return &Export{byName: map[string]*Entity{}} }

func (e *Export) entity(name string) *Entity {
	if en, ok := e.byName[name]; ok {
		return en
	}
	en := &Entity{Name: name, Display: displayNames[name]}
	e.byName[name] = en
	e.entities = append(e.entities, en)
	return en
}

// add appends a record named name with the given fields; the primary id
// field is added as CMT does.
func (e *Export) add(entity, name string, fields ...Value) string {
	return e.addKeyed(entity, name, name, fields...)
}

// addKeyed is add for tables whose names repeat (UII actions are named per
// hosted control), with key making the id unique.
func (e *Export) addKeyed(entity, key, name string, fields ...Value) string {
	id := ID(entity, key)
	pk, pn := primaryFields(entity)
	all := []Value{{Field: pk, Value: id}, {Field: pn, Value: name}}
	all = append(all, fields...)
	e.entity(entity).Records = append(e.entity(entity).Records, &Rec{ID: id, Fields: all})
	return id
}

// relate records an N:N list on the source entity.
func (e *Export) relate(rel, sourceEntity, sourceID, targetEntity string, targetIDs ...string) {
	if len(targetIDs) == 0 {
		return
	}
	en := e.entity(sourceEntity)
	for _, m := range en.M2M {
		if m.Relationship == rel && m.SourceID == sourceID {
			m.TargetIDs = append(m.TargetIDs, targetIDs...)
			return
		}
	}
	en.M2M = append(en.M2M, &M2M{Relationship: rel, SourceID: sourceID, TargetEntity: targetEntity, TargetIDs: append([]string(nil), targetIDs...)})
}

func s(field, v string) Value { return Value{Field: field, Value: v} }
func n(field string, v int) Value {
	return Value{Field: field, Value: fmt.Sprint(v)}
}
func b(field string, v bool) Value {
	if v {
		return Value{Field: field, Value: "True"}
	}
	return Value{Field: field, Value: "False"}
}
func ref(field, entity, id string) Value { return Value{Field: field, Value: id, Lookup: entity} }

var displayNames = map[string]string{
	"msdyusd_entityassignment":   "Entity Type",
	"uii_hostedapplication":      "Hosted Control",
	"uii_action":                 "UII Action",
	"msdyusd_agentscriptaction":  "Action Call",
	"msdyusd_uiievent":           "Event",
	"msdyusd_entitysearch":       "Entity Search",
	"msdyusd_windowroute":        "Window Navigation Rule",
	"msdyusd_task":               "Agent Script",
	"msdyusd_answer":             "Answer",
	"msdyusd_sessioninformation": "Session Lines",
	"msdyusd_toolbarstrip":       "Toolbar",
	"msdyusd_toolbarbutton":      "Toolbar Button",
	"msdyusd_scriptlet":          "Scriptlet",
	"msdyusd_form":               "Form",
	"uii_option":                 "Option",
	"msdyusd_configuration":      "Configuration",
	"msdyusd_ucisettings":        "UCI Settings",
}

func primaryFields(entity string) (string, string) {
	if strings.HasPrefix(entity, "uii_") {
		return entity + "id", "uii_name"
	}
	return entity + "id", "msdyusd_name"
}

// fieldTypes are the CMT schema types of the fields the fixtures use.
var fieldTypes = map[string]string{
	"msdyusd_displayname": "string", "msdyusd_crmwindowhosttype": "optionsetvalue", "uii_displaygroup": "string",
	"uii_isglobalapplication": "bool", "uii_sortorder": "number", "msdyusd_allowmultiplepages": "bool",
	"uii_usercanclose": "bool", "msdyusd_hostingtype": "optionsetvalue", "uii_webappurl": "string",
	"uii_assemblyuri": "string", "uii_assemblytype": "string", "msdyusd_dashboardname": "string", "msdyusd_cifurl": "string",
	"uii_hostedapplicationid": "entityreference", "msdyusd_help": "memo", "uii_isdefault": "bool", "uii_url": "string",
	"uii_querystring": "string", "msdyusd_application": "entityreference", "msdyusd_action": "entityreference",
	"msdyusd_actiondata": "memo", "msdyusd_condition": "memo", "msdyusd_order": "number", "msdyusd_shortcutkey": "string",
	"msdyusd_hostedapplicationid": "entityreference", "msdyusd_numericcode": "number", "msdyusd_from": "entityreference",
	"msdyusd_fromsearch": "entityreference", "msdyusd_entity": "entityreference", "msdyusd_url": "string",
	"msdyusd_routetype": "optionsetvalue", "msdyusd_destination": "optionsetvalue", "msdyusd_entitysearch": "entityreference",
	"msdyusd_showtab": "entityreference", "msdyusd_hidenavbar": "bool", "msdyusd_hideribbon": "bool",
	"msdyusd_scripttext": "memo", "msdyusd_instructions": "memo", "msdyusd_description": "memo",
	"msdyusd_answertext": "string", "msdyusd_linkedtask": "entityreference", "msdyusd_enabledcondition": "memo",
	"msdyusd_visiblecondition": "memo", "msdyusd_type": "optionsetvalue", "msdyusd_display": "memo",
	"msdyusd_selectedentity": "entityreference", "msdyusd_title": "string", "msdyusd_toolbarid": "entityreference",
	"msdyusd_buttons": "entityreference", "msdyusd_buttontext": "string", "msdyusd_tooltip": "string",
	"msdyusd_image": "string", "msdyusd_enablecondition": "optionsetvalue", "msdyusd_fetchxml": "memo",
	"msdyusd_markup": "memo", "uii_value": "memo", "msdyusd_globaloption": "optionsetvalue", "msdyusd_isdefault": "bool",
	"msdyusd_uciapp": "string",
}

func timestamp() string { return "2026-03-02T09:15:27.1234567Z" }

// DataXML renders data.xml the way the CMT writes it: two-space indent,
// one <field> per non-empty column, newlines in values as character
// references (XmlWriter's attribute newline handling).
func (e *Export) DataXML() []byte {
	var buf bytes.Buffer
	buf.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	fmt.Fprintf(&buf, `<entities xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" timestamp="%s">`+"\n", timestamp())
	for _, en := range e.entities {
		fmt.Fprintf(&buf, `  <entity name="%s" displayname="%s">`+"\n", esc(en.Name), esc(en.Display))
		buf.WriteString("    <records>\n")
		for _, r := range en.Records {
			fmt.Fprintf(&buf, `      <record id="%s">`+"\n", r.ID)
			fields := append([]Value(nil), r.Fields...)
			sort.SliceStable(fields, func(i, j int) bool { return fields[i].Field < fields[j].Field })
			for _, f := range fields {
				if f.Value == "" {
					continue
				}
				if f.Lookup != "" {
					fmt.Fprintf(&buf, `        <field name="%s" value="%s" lookupentity="%s" lookupentityname="" />`+"\n", esc(f.Field), esc(f.Value), esc(f.Lookup))
				} else {
					fmt.Fprintf(&buf, `        <field name="%s" value="%s" />`+"\n", esc(f.Field), esc(f.Value))
				}
			}
			buf.WriteString("      </record>\n")
		}
		buf.WriteString("    </records>\n")
		if len(en.M2M) == 0 {
			buf.WriteString("    <m2mrelationships />\n")
		} else {
			buf.WriteString("    <m2mrelationships>\n")
			for _, m := range en.M2M {
				pk, _ := primaryFields(m.TargetEntity)
				fmt.Fprintf(&buf, `      <m2mrelationship sourceid="%s" targetentityname="%s" targetentitynameidfield="%s" m2mrelationshipname="%s">`+"\n",
					m.SourceID, m.TargetEntity, pk, m.Relationship)
				buf.WriteString("        <targetids>\n")
				for _, t := range m.TargetIDs {
					fmt.Fprintf(&buf, "          <targetid>%s</targetid>\n", t)
				}
				buf.WriteString("        </targetids>\n      </m2mrelationship>\n")
			}
			buf.WriteString("    </m2mrelationships>\n")
		}
		buf.WriteString("  </entity>\n")
	}
	buf.WriteString("</entities>\n")
	return buf.Bytes()
}

// SchemaXML renders data_schema.xml declaring every table and field the
// export uses, with the relationships on their owning table.
func (e *Export) SchemaXML() []byte {
	var buf bytes.Buffer
	buf.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n<entities>\n")
	for _, en := range e.entities {
		pk, pn := primaryFields(en.Name)
		fmt.Fprintf(&buf, `  <entity name="%s" displayname="%s" etc="%d" primaryidfield="%s" primarynamefield="%s" disableplugins="false">`+"\n",
			en.Name, esc(en.Display), 10000+len(en.Name)*37%900, pk, pn)
		buf.WriteString("    <fields>\n")
		seen := map[string]string{}
		for _, r := range en.Records {
			for _, f := range r.Fields {
				if _, ok := seen[f.Field]; !ok {
					seen[f.Field] = f.Lookup
				}
			}
		}
		names := make([]string, 0, len(seen))
		for k := range seen {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, f := range names {
			switch {
			case f == pk:
				fmt.Fprintf(&buf, `      <field displayname="%s" name="%s" type="guid" primaryKey="true" />`+"\n", esc(en.Display), f)
			case seen[f] != "":
				fmt.Fprintf(&buf, `      <field displayname="%s" name="%s" type="entityreference" lookupType="%s" customfield="true" />`+"\n", f, f, seen[f])
			default:
				t := fieldTypes[f]
				if t == "" {
					t = "string"
				}
				fmt.Fprintf(&buf, `      <field displayname="%s" name="%s" type="%s" customfield="true" />`+"\n", f, f, t)
			}
		}
		buf.WriteString("    </fields>\n")
		rels := map[string]string{}
		for _, m := range en.M2M {
			rels[m.Relationship] = m.TargetEntity
		}
		if len(rels) > 0 {
			buf.WriteString("    <relationships>\n")
			keys := make([]string, 0, len(rels))
			for k := range rels {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				tpk, _ := primaryFields(rels[k])
				fmt.Fprintf(&buf, `      <relationship name="%s" manyToMany="true" isreflexive="%t" relatedEntityName="%s" m2mTargetEntity="%s" m2mTargetEntityPrimaryKey="%s" />`+"\n",
					k, rels[k] == en.Name, k, rels[k], tpk)
			}
			buf.WriteString("    </relationships>\n")
		}
		buf.WriteString("  </entity>\n")
	}
	buf.WriteString("</entities>\n")
	return buf.Bytes()
}

// ContentTypesXML is the fixed Open Packaging Conventions part the CMT adds.
func ContentTypesXML() []byte {
	return []byte(`<?xml version="1.0" encoding="utf-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/octet-stream" /></Types>`)
}

func esc(v string) string {
	var buf bytes.Buffer
	_ = xml.EscapeText(&buf, []byte(v))
	return buf.String()
}

// File is one zip entry.
type File struct {
	Name string
	Data []byte
}

// Files returns the parts of a complete export in CMT order.
func (e *Export) Files() []File {
	return []File{{ContentTypesName, ContentTypesXML()}, {"data.xml", e.DataXML()}, {"data_schema.xml", e.SchemaXML()}}
}

// ContentTypesName is the OPC content types part.
const ContentTypesName = "[Content_Types].xml"

var fixedTime = time.Date(2026, 3, 2, 9, 15, 26, 0, time.UTC)

// Zip packs files deterministically.
func Zip(files []File) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: fixedTime})
		if err != nil {
			panic(err) // writing to memory cannot fail
		}
		if _, err := w.Write(f.Data); err != nil {
			panic(err)
		}
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// Fixture is one named archive.
type Fixture struct {
	Name string // file name under testdata/usd
	Zip  []byte
	// Files are the uncompressed parts (nil for archives that are not
	// valid zips), for comparing content regardless of compressor.
	Files []File
}

// All returns every fixture.
func All() []Fixture {
	small, contoso := Small(), Contoso()
	out := []Fixture{
		{Name: "small.zip", Files: small.Files()},
		{Name: "contoso.zip", Files: contoso.Files()},
		{Name: "evidence.zip", Files: Evidence().Files()},
	}
	out = append(out, Broken()...)
	for i := range out {
		if out[i].Zip == nil {
			out[i].Zip = Zip(out[i].Files)
		}
	}
	return out
}

// WriteAll writes every fixture into dir.
func WriteAll(dir string) error {
	for _, f := range All() {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Zip, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// ReadZipFiles extracts the entries of an archive, for comparisons.
func ReadZipFiles(data []byte) ([]File, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	var out []File
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, File{Name: f.Name, Data: b})
	}
	return out, nil
}
