package odoo

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzRecordAccessors feeds arbitrary server answers to the typed
// accessors: whatever a hostile or broken server sends, they return a value
// or an error, never panic.
func FuzzRecordAccessors(f *testing.F) {
	for _, s := range []string{
		`[{"id":1,"name":"A","partner_id":[3,"Mitchell Admin"],"tag_ids":[1,2],"write_date":"2026-03-02 09:00:00","date":"2026-03-02","priority":"2","active":true,"color":0,"hours":1.5}]`,
		`[{"id":false,"partner_id":false,"tag_ids":false,"write_date":false,"date":false}]`,
		`[{"id":"1","partner_id":[3],"tag_ids":[[6,0,[1]]],"write_date":"2026-13-45 99:99:99","date":"x"}]`,
		`[{"partner_id":[1e400,"x"],"tag_ids":[1.5],"id":-9223372036854775808}]`,
		`[{"id":1,"write_date":"2026-03-02T09:00:00Z"}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var recs []Record
		if json.Unmarshal(data, &recs) != nil {
			return
		}
		for _, r := range recs {
			r.ID()
			r.Watermark()
			for field := range r {
				r.String(field)
				r.Int(field)
				r.Float(field)
				r.Bool(field)
				r.Many2One(field)
				r.IDs(field)
				r.Time(field)
				r.Date(field)
			}
		}
	})
}

// FuzzDecodeJSONRPC feeds arbitrary bodies to the JSON-RPC envelope decoder.
func FuzzDecodeJSONRPC(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"result":[{"id":1}]}`,
		`{"jsonrpc":"2.0","id":1,"result":42}`,
		`{"jsonrpc":"2.0","id":1,"error":{"code":200,"message":"Odoo Server Error","data":{"name":"odoo.exceptions.AccessError","message":"no","debug":"tb"}}}`,
		`{"jsonrpc":"2.0","id":null,"error":{"code":100,"message":"Odoo Session Expired"}}`,
		`{"result":`,
		`{"result":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var recs []Record
		if err := decodeJSONRPC(bytes.NewReader(data), &recs, "x.y"); err == nil {
			for _, r := range recs {
				r.ID()
			}
		}
		var n int
		decodeJSONRPC(bytes.NewReader(data), &n, "x.y")
		decodeJSONRPC(bytes.NewReader(data), nil, "x.y")
	})
}

// FuzzParseVersionInfo feeds arbitrary server_version_info arrays.
func FuzzParseVersionInfo(f *testing.F) {
	f.Add([]byte(`[17,0,0,"final",0,"e"]`), "17.0+e")
	f.Add([]byte(`["saas~17",2,0,"final",0,"e"]`), "saas~17.2+e")
	f.Add([]byte(`[]`), "")
	f.Add([]byte(`[null,"x"]`), "x")
	f.Fuzz(func(t *testing.T, data []byte, version string) {
		var info []any
		if json.Unmarshal(data, &info) != nil {
			return
		}
		parseVersionInfo(info, version)
	})
}
