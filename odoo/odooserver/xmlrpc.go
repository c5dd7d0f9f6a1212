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

func decodeXMLRPCCall(r io.Reader) (*xmlrpcCall, error) {
	d := xml.NewDecoder(r)
	c := &xmlrpcCall{}
	for {
		tok, err := d.Token()
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
			var name string
			if err := d.DecodeElement(&name, &se); err != nil {
				return nil, err
			}
			c.method = strings.TrimSpace(name)
		case "value":
			v, err := decodeValue(d)
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
// been consumed, up to and including its end tag.
func decodeValue(d *xml.Decoder) (any, error) {
	var text strings.Builder
	var result any
	typed := false
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			if t.Name.Local == "value" {
				if !typed {
					return text.String(), nil // untyped value means string
				}
				return result, nil
			}
		case xml.StartElement:
			typed = true
			result, err = decodeTyped(d, t)
			if err != nil {
				return nil, err
			}
		}
	}
}

func decodeTyped(d *xml.Decoder, se xml.StartElement) (any, error) {
	switch se.Name.Local {
	case "array":
		var out []any
		for {
			tok, err := d.Token()
			if err != nil {
				return nil, err
			}
			switch t := tok.(type) {
			case xml.StartElement:
				if t.Name.Local == "value" {
					v, err := decodeValue(d)
					if err != nil {
						return nil, err
					}
					out = append(out, v)
				}
			case xml.EndElement:
				if t.Name.Local == "array" {
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
			tok, err := d.Token()
			if err != nil {
				return nil, err
			}
			switch t := tok.(type) {
			case xml.StartElement:
				switch t.Name.Local {
				case "name":
					if err := d.DecodeElement(&name, &t); err != nil {
						return nil, err
					}
				case "value":
					v, err := decodeValue(d)
					if err != nil {
						return nil, err
					}
					out[name] = v
				}
			case xml.EndElement:
				if t.Name.Local == "struct" {
					return out, nil
				}
			}
		}
	}
	var raw string
	if err := d.DecodeElement(&raw, &se); err != nil {
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
	case "string", "dateTime.iso8601":
		return raw, nil
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
	if r, ok := v.(*recordOut); ok {
		v = r.toMap()
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
