package usd

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// Fuzz targets for the readers of outside input: a CMT export mailed by a
// customer is untrusted. Run one longer with, for example,
//
//	go test ./usd -run '^$' -fuzz FuzzCMTZip -fuzztime 5m
//
// The seed corpus is testdata/fuzz/<target>/ plus the fixtures added below.

// fuzzLimits keep one input cheap, so that the fuzzer explores instead of
// inflating: the limits themselves are part of what is tested.
var fuzzLimits = Limits{MaxEntrySize: 4 << 20, MaxValueSize: 256 << 10, MaxRatio: 200}

func addFixtures(f *testing.F) {
	for _, name := range []string{"small.zip", "evidence.zip", "broken-malformed.zip", "broken-truncated.zip", "broken-dangling.zip", "broken-noschema.zip", "broken-notzip.zip"} {
		data, err := os.ReadFile(filepath.Join("..", "testdata", "usd", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// checkModel asserts what every consumer relies on: references resolve
// (the builder drops dangling ones) and page evidence can be read.
func checkModel(t *testing.T, m *Model) {
	for _, ac := range m.ActionCalls {
		if ac.HostedControlID != "" && m.HostedControl(ac.HostedControlID) == nil {
			t.Fatalf("action call %s keeps a dangling control %s", ac.ID, ac.HostedControlID)
		}
		for _, id := range ac.SubActionCalls {
			if m.ActionCall(id) == nil {
				t.Fatalf("action call %s keeps a dangling sub-call %s", ac.ID, id)
			}
		}
	}
	for _, r := range m.NavigationRules {
		if r.TargetTabID != "" && m.HostedControl(r.TargetTabID) == nil {
			t.Fatalf("rule %s keeps a dangling target %s", r.ID, r.TargetTabID)
		}
	}
	for _, hc := range m.HostedControls {
		ch := m.PageOf(hc)
		if ch.Chosen != nil && len(ch.Evidence) == 0 {
			t.Fatal("a page was chosen without evidence")
		}
	}
	for _, ac := range m.ActionCalls {
		m.MacroFor(ac)
	}
}

func FuzzCMTZip(f *testing.F) {
	addFixtures(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		z := NewCMTZip(bytes.NewReader(data), int64(len(data)), "fuzz.zip")
		z.Limits = fuzzLimits
		m, err := z.Load(context.Background())
		if err != nil {
			var re *ReadError
			if !errors.As(err, &re) {
				t.Fatalf("error is not a ReadError: %v", err)
			}
			if m != nil {
				t.Fatal("a model and an error")
			}
			return
		}
		checkModel(t, m)
	})
}

// FuzzCMTDataXML feeds data.xml straight to the streaming reader, without
// the zip layer, so that the fuzzer spends its time on the XML.
func FuzzCMTDataXML(f *testing.F) {
	for _, name := range []string{"small.zip", "evidence.zip", "broken-malformed.zip", "broken-dangling.zip"} {
		data, err := os.ReadFile(filepath.Join("..", "testdata", "usd", name))
		if err != nil {
			f.Fatal(err)
		}
		if x := partOf(data, DataFile); x != nil {
			f.Add(x)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := fuzzLimits.withDefaults()
		rd := &cmtReader{ctx: context.Background(), b: NewBuilder(), fields: map[string]*fieldUse{}, lim: lim}
		if err := rd.entry(DataFile, lim.guard(DataFile, bytes.NewReader(data), func() int64 { return int64(len(data)) }, true)); err != nil {
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		checkModel(t, rd.b.Model())
	})
}

// FuzzCMTSchemaXML does the same for data_schema.xml, checked against a
// fixed data.xml.
func FuzzCMTSchemaXML(f *testing.F) {
	small, err := os.ReadFile(filepath.Join("..", "testdata", "usd", "small.zip"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(partOf(small, SchemaFile))
	dataXML := partOf(small, DataFile)
	f.Fuzz(func(t *testing.T, schema []byte) {
		lim := fuzzLimits.withDefaults()
		rd := &cmtReader{ctx: context.Background(), b: NewBuilder(), fields: map[string]*fieldUse{}, lim: lim}
		for _, p := range []struct {
			name string
			body []byte
		}{{SchemaFile, schema}, {DataFile, dataXML}} {
			if err := rd.entry(p.name, lim.guard(p.name, bytes.NewReader(p.body), func() int64 { return int64(len(p.body)) }, true)); err != nil {
				var le *LimitError
				if !errors.As(err, &le) {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
		}
		rd.checkAgainstSchema()
		checkModel(t, rd.b.Model())
	})
}

func partOf(zipData []byte, name string) []byte {
	zr, err := zip.NewReader(bytes.NewReader(zipData), int64(len(zipData)))
	if err != nil {
		return nil
	}
	for _, f := range zr.File {
		if f.Name == name {
			rc, err := f.Open()
			if err != nil {
				return nil
			}
			defer rc.Close()
			b, _ := io.ReadAll(rc)
			return b
		}
	}
	return nil
}
