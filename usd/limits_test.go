package usd_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dvsync/dvsync/usd"
	"github.com/dvsync/dvsync/usd/internal/fixturegen"
)

func loadBytes(data []byte, lim usd.Limits) (*usd.Model, error) {
	z := usd.NewCMTZip(bytes.NewReader(data), int64(len(data)), "hostile.zip")
	z.Limits = lim
	return z.Load(context.Background())
}

// truncateCentral drops the central directory, so that the loader falls
// back to scanning local headers (the path a truncated download takes).
func truncateCentral(data []byte) []byte {
	i := bytes.LastIndex(data, []byte{0x50, 0x4b, 0x01, 0x02})
	for {
		j := bytes.LastIndex(data[:i], []byte{0x50, 0x4b, 0x01, 0x02})
		if j < 0 {
			return data[:i]
		}
		i = j
	}
}

func TestLimits(t *testing.T) {
	ws := fixturegen.WhitespaceBomb(24 << 20)
	long := fixturegen.LongValueBomb(3 << 20)
	tests := []struct {
		name  string
		data  []byte
		lim   usd.Limits
		entry string
		flag  string
		what  string
	}{
		{"whitespace, declared ratio", ws, usd.Limits{}, "data.xml", usd.FlagMaxRatio, "declares a compression ratio"},
		{"whitespace, no central directory", truncateCentral(ws), usd.Limits{}, "data.xml", usd.FlagMaxRatio, "expands more than 200:1"},
		{"whitespace under a raised ratio hits the value limit", truncateCentral(ws), usd.Limits{MaxRatio: 1 << 40}, "data.xml", usd.FlagMaxValueSize, "longer than the value size limit"},
		{"size", truncateCentral(ws), usd.Limits{MaxRatio: 1 << 40, MaxValueSize: 1 << 40, MaxEntrySize: 8 << 20}, "data.xml", usd.FlagMaxSize, "decompresses to more than"},
		{"declared size", ws, usd.Limits{MaxEntrySize: 8 << 20}, "data.xml", usd.FlagMaxSize, "declares 25165885 bytes uncompressed"},
		{"one long value, declared", long, usd.Limits{MaxValueSize: 1 << 20}, "data.xml", usd.FlagMaxRatio, "declares a compression ratio"},
		{"one long value", truncateCentral(long), usd.Limits{MaxRatio: 1 << 40, MaxValueSize: 1 << 20}, "data.xml", usd.FlagMaxValueSize, "value or text run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := loadBytes(tt.data, tt.lim)
			var le *usd.LimitError
			var re *usd.ReadError
			if !errors.As(err, &le) || !errors.As(err, &re) {
				t.Fatalf("err = %v, want a ReadError holding a LimitError", err)
			}
			if le.Entry != tt.entry || le.Flag != tt.flag || !strings.Contains(le.What, tt.what) {
				t.Errorf("limit error = %+v, want entry %s flag %s what %q", le, tt.entry, tt.flag, tt.what)
			}
			msg := err.Error()
			for _, want := range []string{"hostile.zip", tt.entry, "limit", tt.flag} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not name %q", msg, want)
				}
			}
			// A sanity bound only (-race on a shared machine is slow): the
			// limits stop reading at a few MiB, a broken guard would read all.
			if d := time.Since(start); d > time.Minute {
				t.Errorf("took %v to refuse", d)
			}
		})
	}
	// A central directory that understates the sizes does not get past
	// archive/zip, which stops at the declared size: a problem, fast.
	start := time.Now()
	m, err := loadBytes(fixturegen.UnderstateSizes(ws), usd.Limits{})
	if err != nil || m.Errors() == 0 || time.Since(start) > time.Minute {
		t.Fatalf("understated sizes: err %v, %d errors, %v", err, m.Errors(), time.Since(start))
	}
	found := false
	for _, p := range m.Problems {
		found = found || (p.File == usd.DataFile && strings.Contains(p.Message, "does not match the size or checksum the archive declares"))
	}
	if !found {
		t.Errorf("understated data.xml not named: %v", m.Problems)
	}
	_, err = loadBytes(ws, usd.Limits{})
	if err == nil || !strings.Contains(err.Error(), "(limit 200:1); if this is a genuine export, raise it with --max-ratio") {
		t.Errorf("ratio error = %v", err)
	}
	// The same long value is read when the limits allow it.
	m, err = loadBytes(long, usd.Limits{MaxValueSize: 4 << 20, MaxRatio: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.HostedControls) != 1 || len(m.HostedControls[0].Name) != 3<<20 {
		t.Fatalf("raised limits: %d controls", len(m.HostedControls))
	}
}

func TestDefaultLimitsReadEveryFixture(t *testing.T) {
	for _, f := range fixturegen.All() {
		if _, err := loadBytes(f.Zip, usd.Limits{}); err != nil && !strings.Contains(f.Name, "notzip") {
			var le *usd.LimitError
			if errors.As(err, &le) {
				t.Errorf("%s: %v", f.Name, err)
			}
		}
	}
}

func TestDuplicateParts(t *testing.T) {
	ct, data, schema := fixturegen.SmallParts()
	for _, dup := range []string{usd.DataFile, usd.SchemaFile} {
		entries := []fixturegen.RawEntry{{Name: usd.ContentTypesFile, Method: zip.Deflate, Data: ct},
			{Name: usd.DataFile, Method: zip.Deflate, Data: data}, {Name: usd.SchemaFile, Method: zip.Deflate, Data: schema}}
		// The second copy is what a last-wins reader would take.
		entries = append(entries, fixturegen.RawEntry{Name: "/" + dup, Method: zip.Deflate, Data: []byte("<entities/>")})
		archive := fixturegen.WithEntries(entries...)
		for name, z := range map[string][]byte{"central directory": archive, "scanned": truncateCentral(archive)} {
			_, err := loadBytes(z, usd.Limits{})
			var re *usd.ReadError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), dup+" appears more than once") {
				t.Errorf("%s twice (%s): err = %v", dup, name, err)
			}
		}
	}
}

func TestCompressionMethods(t *testing.T) {
	ct, data, schema := fixturegen.SmallParts()
	// data.xml in a method dvsync cannot read: nothing to assess.
	z := fixturegen.WithEntries(fixturegen.RawEntry{Name: usd.ContentTypesFile, Method: zip.Deflate, Data: ct},
		fixturegen.RawEntry{Name: usd.DataFile, Method: 12, Data: data}, fixturegen.RawEntry{Name: usd.SchemaFile, Method: zip.Deflate, Data: schema})
	for name, archive := range map[string][]byte{"central directory": z, "scanned": truncateCentral(z)} {
		_, err := loadBytes(archive, usd.Limits{})
		var re *usd.ReadError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), "data.xml uses compression method 12 (BZIP2)") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	// The schema in LZMA: the data is still assessed, the schema is a problem.
	z = fixturegen.WithEntries(fixturegen.RawEntry{Name: usd.ContentTypesFile, Method: zip.Deflate, Data: ct},
		fixturegen.RawEntry{Name: usd.DataFile, Method: zip.Deflate, Data: data}, fixturegen.RawEntry{Name: usd.SchemaFile, Method: 14, Data: schema})
	m, err := loadBytes(z, usd.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range m.Problems {
		if p.Severity == usd.SeverityError && strings.Contains(p.Message, "compression method 14 (LZMA)") {
			found = true
		}
	}
	if !found || len(m.HostedControls) != 8 {
		t.Errorf("problems %v, %d controls", m.Problems, len(m.HostedControls))
	}
	// Encrypted data.
	z = fixturegen.WithEntries(fixturegen.RawEntry{Name: usd.DataFile, Method: 99, Flags: 1, Data: data})
	if _, err := loadBytes(z, usd.Limits{}); err == nil || !strings.Contains(err.Error(), "encrypted") {
		t.Errorf("encrypted: err = %v", err)
	}
}
