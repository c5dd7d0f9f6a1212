package odooserver

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// XML-RPC codec, enough for what Odoo's /xmlrpc/2 endpoints exchange
// (xmlrpc.com spec; Odoo specifics from addons/rpc/controllers/xmlrpc.py:
// no <nil/> in answers, dates as strings, control characters stripped).

type xmlrpcCall struct {
	method string
	params []any
}

// maxElementDepth bounds how deeply any elements nest. Each XML-RPC nesting
// level costs three elements (<value><array><data> or <value><struct>
// <member>), and encoding/xml keeps a stack entry per open element, so
// unknown elements nested without <value> must be bounded too.
const maxElementDepth = 3*maxNesting + 8

// xmlTokens reads tokens while tracking element depth.
type xmlTokens struct {
	d      *xml.Decoder
	depth  int
	values int // start elements seen
	limit  int // maxValuesPerRequest; tests lower it
}

func (t *xmlTokens) next() (xml.Token, error) {
	tok, err := t.d.Token()
	if err != nil {
		return nil, err
	}
	switch tok.(type) {
	case xml.StartElement:
		t.depth++
		if t.depth > maxElementDepth {
			return nil, errXMLTooDeep
		}
		t.values++
		if t.values > t.limit {
			return nil, &errMemoryLimit{t.limit}
		}
	case xml.EndElement:
		t.depth--
	}
	return tok, nil
}

// text reads the character data of an element whose start tag has been
// consumed, up to and including its end tag. Scalars hold no elements.
func (t *xmlTokens) text(name string) (string, error) {
	var b strings.Builder
	for {
		tok, err := t.next()
		if err != nil {
			return "", err
		}
		switch x := tok.(type) {
		case xml.CharData:
			b.Write(x)
		case xml.StartElement:
			return "", fmt.Errorf("unexpected <%s> inside <%s>", x.Name.Local, name)
		case xml.EndElement:
			return b.String(), nil
		}
	}
}

func decodeXMLRPCCall(r io.Reader) (*xmlrpcCall, error) {
	return decodeXMLRPCCallLimit(r, maxValuesPerRequest)
}

func decodeXMLRPCCallLimit(r io.Reader, limit int) (*xmlrpcCall, error) {
	t := &xmlTokens{d: xml.NewDecoder(r), limit: limit}
	c := &xmlrpcCall{}
	for {
		tok, err := t.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "methodName":
			name, err := t.text(se.Name.Local)
			if err != nil {
				return nil, err
			}
			c.method = strings.TrimSpace(name)
		case "value":
			v, err := decodeValue(t, 1)
			if err != nil {
				return nil, err
			}
			c.params = append(c.params, v)
		}
	}
	if c.method == "" {
		return nil, errors.New("no methodName in XML-RPC request")
	}
	return c, nil
}

// decodeValue reads the content of a <value> element whose start tag has
// been consumed, up to and including its end tag. depth counts the <value>
// elements open around it; past maxNesting the call is refused with the
// RecursionError Odoo ends up raising on such a value (see maxNesting).
func decodeValue(t *xmlTokens, depth int) (any, error) {
	if depth > maxNesting {
		return nil, errXMLTooDeep
	}
	var text strings.Builder
	var result any
	typed := false
	for {
		tok, err := t.next()
		if err != nil {
			return nil, err
		}
		switch x := tok.(type) {
		case xml.CharData:
			if !typed {
				text.Write(x)
			}
		case xml.EndElement:
			if x.Name.Local == "value" {
				if !typed {
					return text.String(), nil // untyped value means string
				}
				return result, nil
			}
		case xml.StartElement:
			if typed {
				return nil, fmt.Errorf("unexpected <%s> after the value's type", x.Name.Local)
			}
			typed = true
			result, err = decodeTyped(t, x, depth)
			if err != nil {
				return nil, err
			}
		}
	}
}

func decodeTyped(t *xmlTokens, se xml.StartElement, depth int) (any, error) {
	switch se.Name.Local {
	case "array":
		var out []any
		for {
			tok, err := t.next()
			if err != nil {
				return nil, err
			}
			switch x := tok.(type) {
			case xml.StartElement:
				if x.Name.Local == "value" {
					v, err := decodeValue(t, depth+1)
					if err != nil {
						return nil, err
					}
					out = append(out, v)
				}
			case xml.EndElement:
				if x.Name.Local == "array" {
					if out == nil {
						out = []any{}
					}
					return out, nil
				}
			}
		}
	case "struct":
		out := map[string]any{}
		var name string
		for {
			tok, err := t.next()
			if err != nil {
				return nil, err
			}
			switch x := tok.(type) {
			case xml.StartElement:
				switch x.Name.Local {
				case "name":
					if name, err = t.text("name"); err != nil {
						return nil, err
					}
				case "value":
					v, err := decodeValue(t, depth+1)
					if err != nil {
						return nil, err
					}
					out[name] = v
				}
			case xml.EndElement:
				if x.Name.Local == "struct" {
					return out, nil
				}
			}
		}
	}
	raw, err := t.text(se.Name.Local)
	if err != nil {
		return nil, err
	}
	switch se.Name.Local {
	case "int", "i4", "i8":
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad XML-RPC int %q", raw)
		}
		return int(n), nil
	case "boolean":
		switch strings.TrimSpace(raw) {
		case "1":
			return true, nil
		case "0":
			return false, nil
		}
		return nil, fmt.Errorf("bad XML-RPC boolean %q", raw)
	case "double":
		f, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil {
			return nil, fmt.Errorf("bad XML-RPC double %q", raw)
		}
		return f, nil
	case "string":
		return raw, nil
	case "dateTime.iso8601":
		return parseXMLRPCDateTime(raw)
	case "base64":
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(raw))
		if err != nil {
			return nil, fmt.Errorf("bad XML-RPC base64: %v", err)
		}
		return string(b), nil
	case "nil":
		return nil, nil
	}
	return nil, fmt.Errorf("unknown XML-RPC type <%s>", se.Name.Local)
}

func encodeXMLRPCResponse(v any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n")
	if err := encodeValue(&b, v); err != nil {
		return nil, err
	}
	b.WriteString("</param>\n</params>\n</methodResponse>\n")
	return b.Bytes(), nil
}

func encodeXMLRPCFault(code any, message string) []byte {
	var b bytes.Buffer
	b.WriteString("<?xml version='1.0'?>\n<methodResponse>\n<fault>\n")
	_ = encodeValue(&b, map[string]any{"faultCode": code, "faultString": message})
	b.WriteString("</fault>\n</methodResponse>\n")
	return b.Bytes()
}

var errXMLRPCOverflow = errors.New("int exceeds XML-RPC limits")

func encodeValue(b *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case *recordOut:
		v = x.toMap()
	case pyDatetime:
		// OdooMarshaller.dump_datetime: datetimes travel back as strings.
		v = x.String()
	case pyNoneT:
		return errMarshalNone
	}
	b.WriteString("<value>")
	switch x := v.(type) {
	case nil:
		// allow_none=False: Odoo never sends <nil/>; empty is False.
		b.WriteString("<boolean>0</boolean>")
	case bool:
		if x {
			b.WriteString("<boolean>1</boolean>")
		} else {
			b.WriteString("<boolean>0</boolean>")
		}
	case int:
		if x > math.MaxInt32 || x < math.MinInt32 {
			return errXMLRPCOverflow
		}
		fmt.Fprintf(b, "<int>%d</int>", x)
	case float64:
		b.WriteString("<double>" + strconv.FormatFloat(x, 'g', -1, 64) + "</double>")
	case string:
		b.WriteString("<string>")
		b.WriteString(xmlEscaper.Replace(stripControl(x)))
		b.WriteString("</string>")
	case []any:
		b.WriteString("<array><data>\n")
		for _, e := range x {
			if err := encodeValue(b, e); err != nil {
				return err
			}
			b.WriteString("\n")
		}
		b.WriteString("</data></array>")
	case []int:
		b.WriteString("<array><data>\n")
		for _, e := range x {
			if err := encodeValue(b, e); err != nil {
				return err
			}
		}
		b.WriteString("</data></array>")
	case map[string]any:
		b.WriteString("<struct>\n")
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			b.WriteString("<member>\n<name>")
			b.WriteString(xmlEscaper.Replace(k))
			b.WriteString("</name>\n")
			if err := encodeValue(b, x[k]); err != nil {
				return err
			}
			b.WriteString("\n</member>\n")
		}
		b.WriteString("</struct>")
	default:
		return fmt.Errorf("cannot marshal %T objects", v)
	}
	b.WriteString("</value>")
	return nil
}

// xmlEscaper escapes like Python's xmlrpc.client (&, < and > only), so
// newlines and quotes travel literally as they do from Odoo.
var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// stripControl drops the C0 control characters XML 1.0 cannot carry, as
// Odoo's marshaller does, keeping tab, newline and carriage return.
func stripControl(s string) string {
	if !strings.ContainsFunc(s, isBadControl) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isBadControl(r) {
			return -1
		}
		return r
	}, s)
}

func isBadControl(r rune) bool {
	return r < 0x20 && r != '\t' && r != '\n' && r != '\r'
}
