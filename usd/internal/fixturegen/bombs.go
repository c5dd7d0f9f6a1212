package fixturegen

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"io"
)

// Hostile archives for the loader's limits. They are generated, not
// committed: a few of them expand to gigabytes.

// WhitespaceBomb is an export whose data.xml is n bytes of white space
// between the root tags: tiny compressed, huge inflated.
func WhitespaceBomb(n int64) []byte {
	return hostile(func(w io.Writer) {
		io.WriteString(w, `<?xml version="1.0" encoding="utf-8"?>`+"\n<entities>")
		copyN(w, ' ', n)
		io.WriteString(w, "</entities>\n")
	})
}

// LongValueBomb is an export with one record whose only field value is n
// bytes long: one XML token the decoder would hold whole.
func LongValueBomb(n int64) []byte {
	return hostile(func(w io.Writer) {
		io.WriteString(w, `<?xml version="1.0" encoding="utf-8"?>`+"\n<entities><entity name=\"uii_hostedapplication\"><records>"+
			`<record id="`+ID(tHC, "bomb")+`"><field name="uii_name" value="`)
		copyN(w, 'A', n)
		io.WriteString(w, `" /></record></records></entity></entities>`+"\n")
	})
}

func copyN(w io.Writer, c byte, n int64) {
	chunk := bytes.Repeat([]byte{c}, 1<<16)
	for n > 0 {
		k := min(n, int64(len(chunk)))
		w.Write(chunk[:k])
		n -= k
	}
}

// hostile writes a complete export whose data.xml body comes from data,
// compressed as hard as Deflate goes.
func hostile(data func(io.Writer)) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestCompression)
	})
	for _, f := range []struct {
		name string
		body func(io.Writer)
	}{
		{ContentTypesName, func(w io.Writer) { w.Write(ContentTypesXML()) }},
		{"data.xml", data},
		{"data_schema.xml", func(w io.Writer) { w.Write(Small().SchemaXML()) }},
	} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: fixedTime})
		if err != nil {
			panic(err)
		}
		f.body(w)
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// UnderstateSizes rewrites the uncompressed sizes an archive's central
// directory declares to 1 KiB, as a crafted bomb does to pass a check of
// declared sizes; the data itself is unchanged.
func UnderstateSizes(zipData []byte) []byte {
	out := append([]byte(nil), zipData...)
	sig := []byte{0x50, 0x4b, 0x01, 0x02}
	for i := 0; ; {
		j := bytes.Index(out[i:], sig)
		if j < 0 {
			return out
		}
		i += j
		binary.LittleEndian.PutUint32(out[i+24:], 1024)
		i += 4
	}
}

// WithEntries builds an archive from raw entries: a duplicated part, or
// a part stored with a method the reader does not know (the bytes are then
// written as they are, marked with that method).
func WithEntries(entries ...RawEntry) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		if e.Method == zip.Store || e.Method == zip.Deflate {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: e.Name, Method: e.Method, Modified: fixedTime, Flags: e.Flags})
			if err != nil {
				panic(err)
			}
			w.Write(e.Data)
			continue
		}
		w, err := zw.CreateRaw(&zip.FileHeader{Name: e.Name, Method: e.Method, Modified: fixedTime, Flags: e.Flags,
			CompressedSize64: uint64(len(e.Data)), UncompressedSize64: uint64(len(e.Data))})
		if err != nil {
			panic(err)
		}
		w.Write(e.Data)
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// RawEntry is one entry for WithEntries.
type RawEntry struct {
	Name   string
	Method uint16
	Flags  uint16
	Data   []byte
}

// SmallParts returns the three parts of the small export, for building
// variants with WithEntries.
func SmallParts() (contentTypes, data, schema []byte) {
	s := Small()
	return ContentTypesXML(), s.DataXML(), s.SchemaXML()
}
