package push

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/schema"
	"github.com/dvsync/dvsync/dataverse/sink"
)

// maxLine bounds one JSONL line; Dataverse rejects requests far smaller.
const maxLine = 64 << 20

// readJSONL yields one record per non-empty line.
func readJSONL(r io.Reader) iter.Seq2[sink.PushRecord, error] {
	return func(yield func(sink.PushRecord, error) bool) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 1<<20), maxLine)
		var n int64
		for sc.Scan() {
			n++
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			raw := json.RawMessage(bytes.Clone(line))
			var rec dataverse.Record
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.UseNumber()
			err := dec.Decode(&rec)
			if err == nil && dec.More() {
				err = errors.New("more than one JSON value on the line")
			}
			if err == nil && rec == nil {
				err = errors.New("not a JSON object")
			}
			if err != nil {
				// Keep the raw text as a JSON string so the rejects file stays valid JSON.
				s, _ := json.Marshal(string(line))
				if !yield(sink.PushRecord{Line: n, Raw: s, Err: fmt.Errorf("invalid JSON: %v", err)}, nil) {
					return
				}
				continue
			}
			if !yield(sink.PushRecord{Line: n, Raw: raw, Record: rec}, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			yield(sink.PushRecord{}, fmt.Errorf("reading input after line %d: %w", n, err))
		}
	}
}

// readCSV reads the header and returns it with the rows after it, one
// record each. Cells are converted to the column's type from the table
// definition (numbers, booleans, choices); empty cells are left out, so
// they never overwrite a value.
func readCSV(r io.Reader, t *schema.Table) ([]string, iter.Seq2[sink.PushRecord, error], error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("reading CSV header: %w", err)
	}
	for i := range header {
		header[i] = strings.TrimSpace(strings.TrimPrefix(header[i], "\ufeff"))
	}
	cr.FieldsPerRecord = len(header)
	return header, func(yield func(sink.PushRecord, error) bool) {
		var n int64 = 1
		for {
			row, err := cr.Read()
			n++
			if err == io.EOF {
				return
			}
			if err != nil {
				var pe *csv.ParseError
				if errors.As(err, &pe) && pe.Err == csv.ErrFieldCount {
					raw, _ := json.Marshal(row)
					if !yield(sink.PushRecord{Line: n, Raw: raw, Err: fmt.Errorf("row has %d fields, header has %d", len(row), len(header))}, nil) {
						return
					}
					continue
				}
				yield(sink.PushRecord{}, fmt.Errorf("reading CSV row %d: %w", n, err))
				return
			}
			rec := dataverse.Record{}
			var cellErr error
			for i, cell := range row {
				if cell == "" {
					continue
				}
				v, err := typedCell(t, header[i], cell)
				if err != nil && cellErr == nil {
					cellErr = err
				}
				rec[header[i]] = v
			}
			raw, _ := json.Marshal(rec)
			if !yield(sink.PushRecord{Line: n, Raw: raw, Record: rec, Err: cellErr}, nil) {
				return
			}
		}
	}, nil
}

func typedCell(t *schema.Table, col, cell string) (any, error) {
	c, ok := t.Column(col)
	if !ok {
		return cell, nil
	}
	switch {
	case c.Type == schema.TypeBoolean:
		b, err := strconv.ParseBool(cell)
		if err != nil {
			return cell, fmt.Errorf("column %s: %q is not true or false", col, cell)
		}
		return b, nil
	case c.Type.IsChoice() || c.Type == schema.TypeInteger || c.Type == schema.TypeBigInt:
		if _, err := strconv.ParseInt(cell, 10, 64); err != nil {
			return cell, fmt.Errorf("column %s: %q is not a whole number", col, cell)
		}
		return json.Number(cell), nil
	case c.Type == schema.TypeDecimal || c.Type == schema.TypeDouble || c.Type == schema.TypeMoney:
		if _, err := strconv.ParseFloat(cell, 64); err != nil {
			return cell, fmt.Errorf("column %s: %q is not a number", col, cell)
		}
		return json.Number(cell), nil
	}
	return cell, nil
}
