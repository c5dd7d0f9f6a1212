package usd

import (
	"archive/zip"
	"bufio"
	"compress/flate"
	"context"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Source yields a USD configuration model. A model with problems is still
// returned; an error means nothing usable could be read.
type Source interface {
	Load(ctx context.Context) (*Model, error)
}

// Names of the parts of a Configuration Migration Tool export zip
// (github.com/amervitz/CrmDataPackager, CrmDataFolderPacker.cs; the CMT is
// documented at learn.microsoft.com/power-platform/admin/manage-configuration-data).
const (
	DataFile         = "data.xml"
	SchemaFile       = "data_schema.xml"
	ContentTypesFile = "[Content_Types].xml"
)

// CMTZip reads a Configuration Migration Tool export zip.
type CMTZip struct {
	r    io.ReaderAt
	size int64
	// Name labels problems with the archive's name.
	Name string
	// Limits bound what reading the archive may cost; the zero value
	// means DefaultLimits.
	Limits Limits
}

// NewCMTZip reads the archive in r (size bytes long).
func NewCMTZip(r io.ReaderAt, size int64, name string) *CMTZip {
	return &CMTZip{r: r, size: size, Name: name}
}

// LoadFile reads the CMT export at path with the default limits.
func LoadFile(ctx context.Context, path string) (*Model, error) {
	return LoadFileLimits(ctx, path, Limits{})
}

// LoadFileLimits reads the CMT export at path within lim.
func LoadFileLimits(ctx context.Context, path string, lim Limits) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &ReadError{File: path, Err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, &ReadError{File: path, Err: err}
	}
	z := NewCMTZip(f, st.Size(), filepath.Base(path))
	z.Limits = lim
	return z.Load(ctx)
}

// Load implements Source. A damaged central directory (a truncated
// download, typically) does not stop it: the entries are then read from
// their local headers in archive order, as far as the data goes.
func (z *CMTZip) Load(ctx context.Context) (*Model, error) {
	lim := z.Limits.withDefaults()
	rd := &cmtReader{ctx: ctx, b: NewBuilder(), fields: map[string]*fieldUse{}, lim: lim}
	zr, err := zip.NewReader(z.r, z.size)
	damaged := err != nil
	if !damaged {
		// Schema first, so that its checks can run as data streams past;
		// the order inside the archive does not matter here.
		entries := map[string]*zip.File{}
		for _, f := range zr.File {
			name := strings.TrimPrefix(f.Name, "/")
			if !isPart(name) {
				continue
			}
			if entries[name] != nil {
				// The CMT writes each part once; with two, which one the
				// import would use is undefined, so neither is trusted.
				return nil, &ReadError{File: z.Name, Err: fmt.Errorf("%s %w; refusing to guess which copy is the export", name, errDuplicate)}
			}
			entries[name] = f
		}
		for _, name := range []string{ContentTypesFile, SchemaFile, DataFile} {
			f, ok := entries[name]
			if !ok {
				continue
			}
			if err := checkMethod(name, f.Method, f.Flags); err != nil {
				if name == DataFile {
					return nil, &ReadError{File: z.Name, Err: err}
				}
				rd.b.AddProblem(Problem{Severity: SeverityError, File: name, Message: err.Error() + "; the part was not read"})
				continue
			}
			if err := lim.checkDeclared(name, f.UncompressedSize64, f.CompressedSize64); err != nil {
				return nil, &ReadError{File: z.Name, Err: err}
			}
			rc, err := f.Open()
			if err != nil {
				rd.b.AddProblem(Problem{Severity: SeverityError, File: name, Message: fmt.Sprintf("cannot open entry: %v", err)})
				continue
			}
			g := lim.guard(name, rc, func() int64 { return int64(f.CompressedSize64) }, true)
			err = rd.entry(name, g)
			rc.Close()
			if err != nil {
				return nil, wrapRead(z.Name, err)
			}
		}
	} else {
		rd.b.AddProblem(Problem{Severity: SeverityError, File: z.Name,
			Message: fmt.Sprintf("archive is damaged (%v); reading entries one by one from the start, the end may be missing", err)})
		seen := map[string]bool{}
		serr := scanLocalEntries(io.NewSectionReader(z.r, 0, z.size), lim, func(name string, body io.Reader) error {
			name = strings.TrimPrefix(name, "/")
			if isPart(name) {
				if seen[name] {
					return fmt.Errorf("%s %w; refusing to guess which copy is the export", name, errDuplicate)
				}
				seen[name] = true
			}
			return rd.entry(name, body)
		})
		var le *LimitError
		switch {
		case errors.Is(serr, errNotZip):
			return nil, &ReadError{File: z.Name, Err: serr}
		case errors.As(serr, &le), errors.Is(serr, errDuplicate), errors.Is(serr, context.Canceled), errors.Is(serr, context.DeadlineExceeded):
			return nil, wrapRead(z.Name, serr)
		case serr != nil && !rd.sawData:
			return nil, &ReadError{File: z.Name, Err: fmt.Errorf("not a readable zip archive: %w", serr)}
		case serr != nil:
			rd.b.AddProblem(Problem{Severity: SeverityError, File: z.Name, Message: fmt.Sprintf("archive ends early: %v", serr)})
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !rd.sawData {
		return nil, &ReadError{File: z.Name, Err: errors.New("no data.xml in the archive; is this a Configuration Migration Tool export?")}
	}
	if !rd.sawContentTypes {
		rd.b.AddProblem(Problem{Severity: SeverityWarning, File: ContentTypesFile, Message: "missing from the archive; the Configuration Migration Tool will not import it as is"})
	}
	if !rd.sawSchema && damaged {
		rd.b.AddProblem(Problem{Severity: SeverityError, File: SchemaFile,
			Message: "not reached before the archive ended; field names and types cannot be checked"})
	} else if !rd.sawSchema {
		rd.b.AddProblem(Problem{Severity: SeverityError, File: SchemaFile,
			Message: "missing from the archive; field names and types cannot be checked and the Configuration Migration Tool will not import it"})
	} else {
		rd.checkAgainstSchema()
	}
	return rd.b.Model(), nil
}

func isPart(name string) bool {
	return name == DataFile || name == SchemaFile || name == ContentTypesFile
}

// wrapRead makes err a ReadError of the archive unless it is the
// context's, which callers test for with errors.Is as it is.
func wrapRead(archive string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var re *ReadError
	if errors.As(err, &re) {
		return err
	}
	return &ReadError{File: archive, Err: err}
}

type fieldUse struct {
	recordID string
	line     int
}

type cmtReader struct {
	ctx context.Context
	b   *Builder
	lim Limits
	// fatal is a limit the input broke; reading stops and no model is
	// returned, because what was read so far is not the export.
	fatal                               error
	schema                              map[string]*schemaEntity
	sawData, sawSchema, sawContentTypes bool
	// fields remembers the first use of every entity/field in data.xml so
	// that it can be checked against the schema whichever came first.
	fields map[string]*fieldUse
}

func (rd *cmtReader) entry(name string, body io.Reader) error {
	switch name {
	case DataFile:
		rd.sawData = true
		rd.readData(body)
	case SchemaFile:
		rd.sawSchema = true
		rd.readSchema(body)
	case ContentTypesFile:
		rd.sawContentTypes = true
		rd.readContentTypes(body)
	default:
		_, err := io.Copy(io.Discard, body)
		var le *LimitError
		if errors.As(err, &le) {
			return err
		}
		return ignoreCorrupt(err)
	}
	if rd.fatal != nil {
		return rd.fatal
	}
	return rd.ctx.Err()
}

// stop reports whether err is a broken limit, remembering it; a limit
// ends the read instead of becoming one more problem in the report.
func (rd *cmtReader) stop(err error) bool {
	var le *LimitError
	if errors.As(err, &le) {
		rd.fatal = le
		return true
	}
	return false
}

// ignoreCorrupt lets the sequential scanner continue past an entry the
// caller did not need.
func ignoreCorrupt(err error) error {
	if err == nil || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, zip.ErrChecksum) {
		return nil
	}
	var ce flate.CorruptInputError
	if errors.As(err, &ce) {
		return nil
	}
	return err
}

// xmlProblem turns a decoder error into a located problem.
func xmlProblem(file string, dec *xml.Decoder, err error, after string) Problem {
	line, _ := dec.InputPos()
	var se *xml.SyntaxError
	msg := err.Error()
	if errors.As(err, &se) {
		line = se.Line
		msg = se.Msg
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		msg = "file ends early (truncated)"
	}
	if errors.Is(err, zip.ErrFormat) || errors.Is(err, zip.ErrChecksum) {
		// archive/zip stops an entry at the size the directory declares
		// and checks its CRC: the part is longer than declared, or damaged.
		msg = "the entry does not match the size or checksum the archive declares (" + err.Error() + ")"
	}
	if after != "" {
		msg += "; " + after
	}
	return Problem{Severity: SeverityError, File: file, Line: line, Message: msg + "; the rest of the file was not read"}
}

type xmlField struct {
	Name             string `xml:"name,attr"`
	Value            string `xml:"value,attr"`
	LookupEntity     string `xml:"lookupentity,attr"`
	LookupEntityName string `xml:"lookupentityname,attr"`
}

type xmlRecord struct {
	ID     string     `xml:"id,attr"`
	Fields []xmlField `xml:"field"`
}

type xmlM2M struct {
	SourceID     string   `xml:"sourceid,attr"`
	TargetEntity string   `xml:"targetentityname,attr"`
	TargetIDAttr string   `xml:"targetentitynameidfield,attr"`
	Name         string   `xml:"m2mrelationshipname,attr"`
	TargetIDs    []string `xml:"targetids>targetid"`
}

// readData streams data.xml: one record or membership list is decoded at a
// time, so memory follows the model, not the file.
func (rd *cmtReader) readData(r io.Reader) {
	dec := xml.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	var entity, lastRecord string
	sawRoot := false
	for n := 0; ; n++ {
		if n%1024 == 0 && rd.ctx.Err() != nil {
			return
		}
		tok, err := dec.Token()
		if err == io.EOF {
			if !sawRoot {
				rd.b.AddProblem(Problem{Severity: SeverityError, File: DataFile, Message: "no <entities> root element; file is empty"})
			}
			return
		}
		if err != nil {
			if rd.stop(err) {
				return
			}
			after := ""
			if lastRecord != "" {
				after = "last complete record: " + lastRecord
			}
			rd.b.AddProblem(xmlProblem(DataFile, dec, err, after))
			return
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "entities":
			sawRoot = true
		case "entity":
			entity = attr(se, "name")
		case "record":
			line, _ := dec.InputPos()
			var rec xmlRecord
			if err := dec.DecodeElement(&rec, &se); err != nil {
				if rd.stop(err) {
					return
				}
				p := xmlProblem(DataFile, dec, err, "")
				p.Entity, p.RecordID = entity, NormalizeID(attr(se, "id"))
				p.Message = "record could not be read: " + p.Message
				rd.b.AddProblem(p)
				return
			}
			fields := make([]Field, len(rec.Fields))
			for i, f := range rec.Fields {
				fields[i] = Field{Name: f.Name, Value: f.Value, LookupEntity: f.LookupEntity}
				key := entity + "\x00" + f.Name
				if rd.fields[key] == nil {
					rd.fields[key] = &fieldUse{recordID: NormalizeID(rec.ID), line: line}
				}
			}
			rd.b.AddRecord(Record{Entity: entity, ID: rec.ID, Fields: fields, File: DataFile, Line: line})
			lastRecord = entity + " " + NormalizeID(rec.ID)
		case "m2mrelationship":
			line, _ := dec.InputPos()
			var m xmlM2M
			if err := dec.DecodeElement(&m, &se); err != nil {
				if rd.stop(err) {
					return
				}
				p := xmlProblem(DataFile, dec, err, "")
				p.Entity, p.RecordID, p.Field = entity, NormalizeID(attr(se, "sourceid")), attr(se, "m2mrelationshipname")
				p.Message = "relationship list could not be read: " + p.Message
				rd.b.AddProblem(p)
				return
			}
			rd.b.AddAssociation(Association{Relationship: m.Name, SourceEntity: entity, SourceID: m.SourceID,
				TargetIDs: m.TargetIDs, File: DataFile, Line: line})
		}
	}
}

func attr(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

type schemaEntity struct {
	name      string
	primaryID string
	fields    map[string]string // name → type
}

type xmlSchemaEntity struct {
	Name      string `xml:"name,attr"`
	PrimaryID string `xml:"primaryidfield,attr"`
	Fields    []struct {
		Name string `xml:"name,attr"`
		Type string `xml:"type,attr"`
	} `xml:"fields>field"`
}

// readSchema reads data_schema.xml one <entity> at a time.
func (rd *cmtReader) readSchema(r io.Reader) {
	rd.schema = map[string]*schemaEntity{}
	dec := xml.NewDecoder(bufio.NewReader(r))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if len(rd.schema) == 0 {
				rd.b.AddProblem(Problem{Severity: SeverityError, File: SchemaFile, Message: "declares no entities"})
			}
			return
		}
		if err != nil {
			if !rd.stop(err) {
				rd.b.AddProblem(xmlProblem(SchemaFile, dec, err, ""))
			}
			return
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "entity" {
			continue
		}
		var e xmlSchemaEntity
		if err := dec.DecodeElement(&e, &se); err != nil {
			if rd.stop(err) {
				return
			}
			p := xmlProblem(SchemaFile, dec, err, "")
			p.Entity = attr(se, "name")
			rd.b.AddProblem(p)
			return
		}
		s := &schemaEntity{name: e.Name, primaryID: e.PrimaryID, fields: map[string]string{}}
		for _, f := range e.Fields {
			s.fields[f.Name] = f.Type
		}
		rd.schema[e.Name] = s
	}
}

// readContentTypes only checks that the part is well-formed XML: the CMT
// writes a fixed Open Packaging Conventions declaration there.
func (rd *cmtReader) readContentTypes(r io.Reader) {
	dec := xml.NewDecoder(r)
	for {
		_, err := dec.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			if rd.stop(err) {
				return
			}
			p := xmlProblem(ContentTypesFile, dec, err, "")
			p.Severity = SeverityWarning
			rd.b.AddProblem(p)
			return
		}
	}
}

// checkAgainstSchema reports tables and fields that data.xml uses but
// data_schema.xml does not declare: the CMT refuses such an import.
func (rd *cmtReader) checkAgainstSchema() {
	keys := make([]string, 0, len(rd.fields))
	for k := range rd.fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	missingEntity := map[string]bool{}
	for _, k := range keys {
		entity, field, _ := strings.Cut(k, "\x00")
		use := rd.fields[k]
		s, ok := rd.schema[entity]
		if !ok {
			if !missingEntity[entity] {
				missingEntity[entity] = true
				rd.b.AddProblem(Problem{Severity: SeverityError, File: SchemaFile, Entity: entity,
					Message: "table has records in data.xml but is not declared in the schema"})
			}
			continue
		}
		if _, ok := s.fields[field]; !ok {
			rd.b.AddProblem(Problem{Severity: SeverityWarning, File: DataFile, Line: use.line, Entity: entity, RecordID: use.recordID,
				Field: field, Message: "field is not declared in data_schema.xml"})
		}
	}
}

var errDuplicate = errors.New("appears more than once in the archive")

var errNotZip = errors.New("not a zip archive; a Configuration Migration Tool export is a .zip holding data.xml and data_schema.xml")

// scanLocalEntries walks a zip archive front to back by its local file
// headers (APPNOTE.TXT 4.3.7), for archives whose central directory at the
// end is missing. It stops at the first header it cannot follow.
func scanLocalEntries(r io.Reader, lim Limits, fn func(name string, body io.Reader) error) error {
	cr := &countingReader{r: bufio.NewReaderSize(r, 64<<10)}
	br := cr.r
	const (
		localSig      = 0x04034b50
		descriptorSig = 0x08074b50
	)
	for first := true; ; first = false {
		var hdr [30]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if !first && (err == io.EOF || err == io.ErrUnexpectedEOF) {
				return io.ErrUnexpectedEOF
			}
			return fmt.Errorf("reading local header: %w", err)
		}
		sig := binary.LittleEndian.Uint32(hdr[0:])
		if sig != localSig {
			if first {
				return errNotZip
			}
			return nil // central directory (or garbage) begins: all entries seen
		}
		flags := binary.LittleEndian.Uint16(hdr[6:])
		method := binary.LittleEndian.Uint16(hdr[8:])
		csize := binary.LittleEndian.Uint32(hdr[18:])
		nameLen := binary.LittleEndian.Uint16(hdr[26:])
		extraLen := binary.LittleEndian.Uint16(hdr[28:])
		name := make([]byte, nameLen)
		if _, err := io.ReadFull(br, name); err != nil {
			return fmt.Errorf("reading entry name: %w", io.ErrUnexpectedEOF)
		}
		if _, err := br.Discard(int(extraLen)); err != nil {
			return fmt.Errorf("entry %s: %w", name, io.ErrUnexpectedEOF)
		}
		hasDescriptor := flags&0x8 != 0
		if err := checkMethod(string(name), method, flags); err != nil {
			return err
		}
		var body io.Reader
		start := cr.n
		switch method {
		case zip.Store:
			if hasDescriptor {
				return fmt.Errorf("entry %s: stored entry without sizes cannot be followed", name)
			}
			body = io.LimitReader(cr, int64(csize))
		case zip.Deflate:
			// countingReader is an io.ByteReader, so flate consumes exactly
			// the compressed bytes and the next header follows; it also
			// counts them, for the compression ratio.
			body = flate.NewReader(cr)
		}
		body = lim.guard(string(name), body, func() int64 { return cr.n - start }, isPart(strings.TrimPrefix(string(name), "/")))
		if err := fn(string(name), body); err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, body); err != nil {
			return fmt.Errorf("entry %s: %w", name, err)
		}
		if hasDescriptor {
			peek, err := br.Peek(4)
			if err == nil && binary.LittleEndian.Uint32(peek) == descriptorSig {
				_, err = br.Discard(16)
			} else if err == nil {
				_, err = br.Discard(12)
			}
			if err != nil {
				return io.ErrUnexpectedEOF
			}
		}
	}
}
