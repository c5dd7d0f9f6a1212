package pull

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"

	"github.com/dvsync/dvsync/dataverse"
)

// RecordWriter writes records in one file format.
type RecordWriter interface {
	Write(dataverse.Record) error
	Flush() error
}

type jsonlWriter struct {
	bw  *bufio.Writer
	enc *json.Encoder
}

// NewJSONLWriter writes one JSON object per line. Keys come out sorted, so
// the same records always produce the same file.
func NewJSONLWriter(w io.Writer) RecordWriter {
	bw := bufio.NewWriterSize(w, 256<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &jsonlWriter{bw: bw, enc: enc}
}

func (j *jsonlWriter) Write(r dataverse.Record) error { return j.enc.Encode(r) }

// WriteRaw writes a record as the JSON text the server sent, on one line.
func (j *jsonlWriter) WriteRaw(raw json.RawMessage) error {
	if bytes.ContainsAny(raw, "\r\n") {
		// Only whitespace can hold a line break in JSON: compact it away.
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return err
		}
		raw = buf.Bytes()
	}
	if _, err := j.bw.Write(raw); err != nil {
		return err
	}
	return j.bw.WriteByte('\n')
}
func (j *jsonlWriter) Flush() error { return j.bw.Flush() }

type csvWriter struct {
	w       *csv.Writer
	columns []string
	row     []string
}

// NewCSVWriter writes a header of columns and one row per record. Values
// that are objects or arrays are written as JSON; null is an empty cell.
func NewCSVWriter(w io.Writer, columns []string) (RecordWriter, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(columns); err != nil {
		return nil, err
	}
	return &csvWriter{w: cw, columns: columns, row: make([]string, len(columns))}, nil
}

func (c *csvWriter) Write(r dataverse.Record) error {
	for i, col := range c.columns {
		c.row[i] = CSVValue(r[col])
	}
	return c.w.Write(c.row)
}

func (c *csvWriter) Flush() error {
	c.w.Flush()
	return c.w.Error()
}

// CSVValue formats one value for a CSV cell.
func CSVValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}
