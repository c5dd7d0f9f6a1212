package push

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/sink"
)

// isJSONArray reports whether the input's first character (after white
// space and a byte order mark, which it drops) opens a JSON array; the
// bytes stay in br for the reader that follows.
func isJSONArray(br *bufio.Reader) bool {
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\ufeff")) {
		br.Discard(3)
	}
	for i := 1; ; i++ {
		b, err := br.Peek(i)
		if len(b) < i || err != nil {
			return false
		}
		switch b[i-1] {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b[i-1] == '['
	}
}

// readJSONArray yields the elements of a JSON array of records (what
// many tools and the Web API's "value" hold), streamed, each with the
// line it starts on. Unlike JSONL, a syntax error ends the file: the
// decoder cannot find the next element after it.
func readJSONArray(r io.Reader) iter.Seq2[sink.PushRecord, error] {
	return func(yield func(sink.PushRecord, error) bool) {
		lc := &lineCounter{r: r}
		dec := json.NewDecoder(lc)
		if _, err := dec.Token(); err != nil {
			yield(sink.PushRecord{}, fmt.Errorf("invalid JSON array: %w", err))
			return
		}
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				yield(sink.PushRecord{}, fmt.Errorf("invalid JSON at line %d: %w", lc.line(errorOffset(dec, err)), err))
				return
			}
			line := lc.line(dec.InputOffset() - int64(len(raw)))
			var rec dataverse.Record
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			err := d.Decode(&rec)
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) || err == nil && rec == nil {
				err = errors.New("not a JSON object")
			}
			if !yield(sink.PushRecord{Line: line, Raw: raw, Record: rec, Err: err}, nil) {
				return
			}
		}
		if _, err := dec.Token(); err != nil {
			yield(sink.PushRecord{}, fmt.Errorf("invalid JSON at line %d: %w", lc.line(errorOffset(dec, err)), err))
		}
	}
}

// errorOffset is where in the input a decoding error was found.
func errorOffset(dec *json.Decoder, err error) int64 {
	var se *json.SyntaxError
	if errors.As(err, &se) && se.Offset > 0 {
		return se.Offset - 1
	}
	return dec.InputOffset()
}

// lineCounter tells the line of an offset already read. Offsets are asked
// for in increasing order, so it keeps only the newlines ahead of the last
// one asked: memory is bounded by the decoder's read-ahead, not the file.
type lineCounter struct {
	r        io.Reader
	off      int64
	newlines []int64 // offsets of '\n' at or after the last offset asked
	before   int64   // newlines before it
}

func (l *lineCounter) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for i, b := range p[:n] {
		if b == '\n' {
			l.newlines = append(l.newlines, l.off+int64(i))
		}
	}
	l.off += int64(n)
	return n, err
}

// line is the 1-based line holding the byte at off.
func (l *lineCounter) line(off int64) int64 {
	i := 0
	for i < len(l.newlines) && l.newlines[i] < off {
		i++
	}
	l.before += int64(i)
	l.newlines = l.newlines[i:]
	return l.before + 1
}
