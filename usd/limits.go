package usd

import (
	"archive/zip"
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// Limits bound what reading one export may cost, so that a hostile or
// broken archive (a zip bomb, one endless attribute) ends with an error
// naming the entry and the limit instead of exhausting memory or time.
// Zero fields take the DefaultLimits value.
type Limits struct {
	// MaxEntrySize is the most bytes one part (data.xml,
	// data_schema.xml, [Content_Types].xml) may decompress to.
	MaxEntrySize int64
	// MaxValueSize is the most bytes between two XML tags: the longest
	// attribute value (a field's value) or text run the reader accepts.
	MaxValueSize int64
	// MaxRatio is the most a part may expand (decompressed bytes per
	// compressed byte) once it is past ratioFloor.
	MaxRatio int64
}

// DefaultLimits are generous for real USD exports: the largest text
// columns (msdyusd_markup, msdyusd_scripttext, msdyusd_actiondata) hold at
// most 1,048,576 characters in Dataverse, which XML escaping can inflate
// a few times over; XML compresses 5–30× with Deflate, while a bomb's
// white space or repeated bytes compresses about 1,000×.
var DefaultLimits = Limits{MaxEntrySize: 512 << 20, MaxValueSize: 16 << 20, MaxRatio: 200}

// ratioFloor is the output below which the ratio is not checked: tiny
// parts of repeated markup legitimately compress very well.
const ratioFloor = 1 << 20

func (l Limits) withDefaults() Limits {
	if l.MaxEntrySize <= 0 {
		l.MaxEntrySize = DefaultLimits.MaxEntrySize
	}
	if l.MaxValueSize <= 0 {
		l.MaxValueSize = DefaultLimits.MaxValueSize
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = DefaultLimits.MaxRatio
	}
	return l
}

// LimitError says which limit an entry broke. Flag names the dvsync
// option that raises it, for the one-line error.
type LimitError struct {
	Entry string
	What  string
	Limit int64
	Flag  string
}

func (e *LimitError) Error() string {
	limit := FormatSize(e.Limit)
	if e.Flag == FlagMaxRatio {
		limit = fmt.Sprintf("%d:1", e.Limit)
	}
	return fmt.Sprintf("%s: %s (limit %s); if this is a genuine export, raise it with %s", e.Entry, e.What, limit, e.Flag)
}

// Flag names of the limits, shared with the command that sets them.
const (
	FlagMaxSize      = "--max-size"
	FlagMaxValueSize = "--max-value-size"
	FlagMaxRatio     = "--max-ratio"
)

// FormatSize writes a byte count the way the size flags read it.
func FormatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// checkDeclared refuses a part whose central directory already admits a
// size or ratio beyond the limits, before a byte is inflated. Declared
// sizes can lie, so the guard checks again while reading.
func (l Limits) checkDeclared(name string, size, csize uint64) error {
	if size > uint64(l.MaxEntrySize) {
		return &LimitError{Entry: name, What: fmt.Sprintf("declares %s uncompressed", FormatSize(int64(size))), Limit: l.MaxEntrySize, Flag: FlagMaxSize}
	}
	if size > ratioFloor && csize > 0 && size/csize > uint64(l.MaxRatio) {
		return &LimitError{Entry: name, What: fmt.Sprintf("declares a compression ratio of %d:1", size/csize), Limit: l.MaxRatio, Flag: FlagMaxRatio}
	}
	return nil
}

// guard wraps the decompressed stream of entry name. compressed reports
// the compressed bytes behind it so far (or in total). xmlPart enables the
// value-size check, which only means something for the XML parts.
func (l Limits) guard(name string, r io.Reader, compressed func() int64, xmlPart bool) io.Reader {
	return &guardReader{r: r, lim: l, name: name, compressed: compressed, xml: xmlPart}
}

type guardReader struct {
	r          io.Reader
	lim        Limits
	name       string
	compressed func() int64
	xml        bool
	n          int64 // decompressed bytes so far
	run        int64 // bytes since the last '<'
	err        error
}

func (g *guardReader) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	g.n += int64(n)
	switch {
	case g.n > g.lim.MaxEntrySize:
		g.err = &LimitError{Entry: g.name, What: "decompresses to more than the size limit", Limit: g.lim.MaxEntrySize, Flag: FlagMaxSize}
	case g.n > ratioFloor && g.n > g.lim.MaxRatio*max(g.compressed(), 1):
		g.err = &LimitError{Entry: g.name, What: fmt.Sprintf("expands more than %d:1 (%s from %s compressed)", g.lim.MaxRatio,
			FormatSize(g.n), FormatSize(g.compressed())), Limit: g.lim.MaxRatio, Flag: FlagMaxRatio}
	case g.xml:
		// '<' cannot appear raw inside an attribute value or text, so the
		// distance between two of them bounds every token the XML
		// decoder must hold in memory at once.
		if i := bytes.LastIndexByte(p[:n], '<'); i >= 0 {
			g.run = int64(n - 1 - i)
		} else {
			g.run += int64(n)
		}
		if g.run > g.lim.MaxValueSize {
			g.err = &LimitError{Entry: g.name, What: "holds a value or text run longer than the value size limit", Limit: g.lim.MaxValueSize, Flag: FlagMaxValueSize}
		}
	}
	if g.err != nil {
		return 0, g.err
	}
	return n, err
}

// countingReader counts the bytes read through it and stays an
// io.ByteReader, so that flate reads no further than its stream.
type countingReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// compressionMethods names the methods of APPNOTE.TXT 4.4.5 that appear
// in practice, so that an unsupported one is reported by name.
var compressionMethods = map[uint16]string{
	1: "Shrink", 6: "Implode", 9: "Deflate64", 12: "BZIP2", 14: "LZMA", 18: "IBM TERSE", 19: "IBM LZ77",
	93: "Zstandard", 95: "XZ", 96: "JPEG", 97: "WavPack", 98: "PPMd", 99: "AE-x encryption",
}

// checkMethod accepts the two methods archive/zip and the Configuration
// Migration Tool use (Store, Deflate) and names anything else.
func checkMethod(name string, method, flags uint16) error {
	if flags&0x1 != 0 {
		return fmt.Errorf("%s is encrypted; export the configuration again without a password", name)
	}
	switch method {
	case zip.Store, zip.Deflate:
		return nil
	}
	label := compressionMethods[method]
	if label == "" {
		label = "unknown"
	}
	return fmt.Errorf("%s uses compression method %d (%s), which dvsync does not read; re-create the zip with Deflate, as the Configuration Migration Tool writes it", name, method, label)
}
