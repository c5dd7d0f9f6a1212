package odooserver

import (
	"strings"
	"testing"
)

// The External API documentation's "Inspection and introspection" example:
// a custom model through ir.model, a field through ir.model.fields, then
// records of it.
func TestCustomModelAsTheDocumentationShows(t *testing.T) {
	for _, v := range []int{16, 19} {
		_, ts := newTestServer(t, Options{Version: v})
		id := result(t, execKW(t, ts.URL, "ir.model", "create", []any{map[string]any{"name": "Custom Model", "model": "x_custom_model", "state": "manual"}}, nil))
		fg := result(t, execKW(t, ts.URL, "x_custom_model", "fields_get", []any{}, map[string]any{"attributes": []any{"string", "help", "type"}})).(map[string]any)
		for _, f := range []string{"id", "display_name", "create_uid", "create_date", "write_uid", "write_date"} {
			if _, ok := fg[f]; !ok {
				t.Fatalf("%d: custom model lacks magic field %s: %v", v, f, fg)
			}
		}
		result(t, execKW(t, ts.URL, "ir.model.fields", "create", []any{map[string]any{"model_id": id, "name": "x_name", "ttype": "char", "state": "manual", "required": true}}, nil))
		rid := result(t, execKW(t, ts.URL, "x_custom_model", "create", []any{map[string]any{"x_name": "test record"}}, nil))
		rec := result(t, execKW(t, ts.URL, "x_custom_model", "read", []any{[]any{rid}}, nil)).([]any)[0].(map[string]any)
		if rec["x_name"] != "test record" || rec["display_name"] != "test record" {
			t.Fatalf("%d: record = %v", v, rec)
		}
		// x_name is required now.
		d := errorData(t, execKW(t, ts.URL, "x_custom_model", "create", []any{map[string]any{}}, nil))
		if !strings.Contains(d["message"].(string), "x_name") {
			t.Fatalf("%d: missing required x_name: %v", v, d)
		}
		n := result(t, execKW(t, ts.URL, "ir.model.fields", "search_count", []any{[]any{[]any{"model", "=", "x_custom_model"}}}, nil))
		want := 7.0 // 6 magic fields + x_name
		if v < 17 {
			want++ // __last_update
		}
		if n != want {
			t.Fatalf("%d: ir.model.fields rows for x_custom_model = %v, want %v", v, n, want)
		}
		// The documented validations.
		if d := errorData(t, execKW(t, ts.URL, "ir.model", "create", []any{map[string]any{"name": "Bad", "model": "custom_model", "state": "manual"}}, nil)); d["message"] != "The model name must start with 'x_'." {
			t.Fatalf("%d: %v", v, d)
		}
		if d := errorData(t, execKW(t, ts.URL, "ir.model.fields", "create", []any{map[string]any{"model_id": id, "name": "name", "ttype": "char", "state": "manual"}}, nil)); d["message"] != "Custom fields must have a name that starts with 'x_'!" {
			t.Fatalf("%d: %v", v, d)
		}
		// Base models stay as they are.
		base := result(t, execKW(t, ts.URL, "ir.model", "search", []any{[]any{[]any{"model", "=", "res.partner"}}}, nil)).([]any)
		if d := errorData(t, execKW(t, ts.URL, "ir.model", "unlink", []any{base}, nil)); d["name"] != "odoo.exceptions.UserError" {
			t.Fatalf("%d: deleting res.partner's ir.model: %v", v, d)
		}
		// Deleting the custom model removes it.
		result(t, execKW(t, ts.URL, "ir.model", "unlink", []any{[]any{id}}, nil))
		if d := errorData(t, execKW(t, ts.URL, "x_custom_model", "search", []any{[]any{}}, nil)); !strings.Contains(d["message"].(string), "x_custom_model") {
			t.Fatalf("%d: model still there: %v", v, d)
		}
	}
}
