package refserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse/schema"
)

const (
	dateTimeLayout = "2006-01-02T15:04:05Z"
	dateOnlyLayout = "2006-01-02"
)

// pendingBind is an @odata.bind whose target must be resolved inside the
// write transaction (it may name a record by alternate key, or one created
// earlier in the same change set).
type pendingBind struct {
	column *schema.Column
	target *schema.Table
	ref    string // the reference as sent, for error messages
	id     string // set when the reference names a primary key
	key    map[string]any
	null   bool
}

// payload is a decoded create/update body.
type payload struct {
	values row
	binds  []pendingBind
	// deep holds related records created with this one (deep insert,
	// create-entity-web-api.md "Create related table rows in one operation").
	deep []deepInsert
	// detectDuplicates is set by MSCRM.SuppressDuplicateDetection: false
	// (duplicates.go).
	detectDuplicates bool
}

// deepInsert is a related record nested in a create payload: through a
// single-valued navigation property (created first, then bound) or a
// collection-valued one (created after, pointing back at the new record).
type deepInsert struct {
	column   *schema.Column    // single-valued: the lookup on the parent
	rel      *schema.OneToMany // collection-valued: the relationship
	target   *schema.Table
	children []*payload
}

// maxDeepInsertDepth bounds nesting of deep inserts; our limit (Dataverse
// documents none), far beyond the two or three levels its examples use.
const maxDeepInsertDepth = 10

// inputError reports a payload the OData deserializer rejects; Dataverse
// prefixes these with "An error occurred while validating input parameters"
// and code 0x0 (seen in PowerPlatform-DataverseServiceClient#44).
func inputError(format string, args ...any) *apiError {
	return badRequest(codeBadProperty, "An error occurred while validating input parameters: Microsoft.OData.ODataException: "+format, args...)
}

func propertyDoesNotExist(t *schema.Table, name string) *apiError {
	return badRequest(codeQueryNotSupported, "The property '%s' does not exist on type 'Microsoft.Dynamics.CRM.%s'. Make sure to only use property names that are defined by the type or mark the type as open type.", name, t.LogicalName)
}

// decodePayload validates a JSON object against t and converts it to typed
// values. resolveRef turns an entity reference path into a table and key.
func (s *Server) decodePayload(t *schema.Table, body []byte) (*payload, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return nil, badRequest(codeBadProperty, "Invalid JSON. The request body is not a valid JSON object.")
	}
	return s.decodeObject(t, raw)
}

func (s *Server) decodeObject(t *schema.Table, raw map[string]any) (*payload, error) {
	return s.decodeObjectDepth(t, raw, 0)
}

func (s *Server) decodeObjectDepth(t *schema.Table, raw map[string]any, depth int) (*payload, error) {
	p := &payload{values: row{}}
	for name, v := range raw {
		if d, ok, err := s.decodeDeep(t, name, v, depth); ok {
			if err != nil {
				return nil, err
			}
			p.deep = append(p.deep, d)
			continue
		}
		if strings.HasPrefix(name, "@odata.") || strings.HasPrefix(name, "@") {
			continue // instance annotations (@odata.type, @odata.etag, @odata.context)
		}
		if nav, ok := strings.CutSuffix(name, "@odata.bind"); ok {
			col, targetName, ok := t.LookupByNavigation(nav)
			if !ok {
				return nil, inputError("An undeclared property '%s' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values.", nav)
			}
			if col.ReadOnly {
				continue
			}
			target, _ := s.reg.Table(targetName)
			b := pendingBind{column: col, target: target}
			if v == nil {
				b.null = true
			} else {
				ref, ok := v.(string)
				if !ok {
					return nil, inputError("The value of '%s' must be a string entity reference such as '/%s(00000000-0000-0000-0000-000000000000)'.", name, target.EntitySetName)
				}
				b.ref = ref
				setName, keyText, err := splitEntityRef(ref)
				if err == nil && col.Type == schema.TypeOwner {
					// ownerid binds to /systemusers(...) or /teams(...).
					for _, tn := range col.Targets {
						if tt, ok := s.reg.Table(tn); ok && tt.EntitySetName == setName {
							target, b.target = tt, tt
						}
					}
				}
				if err != nil || setName != target.EntitySetName {
					return nil, badRequest(codeBadProperty, "Error identified in Payload provided by the user for Entity :'%ss', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ---->  InnerException : Microsoft.OData.ODataException: The URI '%s' in the payload for '%s' is not a valid reference to a '%s' record.", t.EntitySetName, ref, name, targetName)
				}
				id, key, kerr := parseKeySegment(target, keyText)
				if kerr != nil {
					return nil, kerr
				}
				b.id, b.key = id, key
			}
			p.binds = append(p.binds, b)
			continue
		}
		if base, _, ok := strings.Cut(name, "@"); ok {
			// A property annotation (x@OData.Community.Display.V1.FormattedValue)
			// sent back by a client that round-trips what it read: ignored when
			// the property exists, as OData does.
			if _, ok := t.Column(base); ok {
				continue
			}
			if _, ok := t.LookupByValueProperty(base); ok {
				continue
			}
			return nil, propertyDoesNotExist(t, base)
		}
		col, ok := t.Column(name)
		if !ok {
			return nil, propertyDoesNotExist(t, name)
		}
		if col.Type.IsLookup() {
			if len(col.Targets) == 1 {
				return nil, inputError("A 'PrimitiveValue' node with non-null value was found when trying to read the value of the navigation property '%s'; however, a 'StartArray' node, a 'StartObject' node, or a 'PrimitiveValue' node with null value was expected.", name)
			}
			return nil, propertyDoesNotExist(t, name)
		}
		if col.ReadOnly {
			continue // platform-maintained columns are ignored on write
		}
		val, err := convertValue(t, col, v)
		if err != nil {
			return nil, err
		}
		p.values[name] = val
	}
	return p, nil
}

// decodeDeep recognises a navigation property holding a nested record (an
// object) or records (an array) and decodes them for a deep insert.
func (s *Server) decodeDeep(t *schema.Table, name string, v any, depth int) (deepInsert, bool, error) {
	switch x := v.(type) {
	case map[string]any:
		col, targetName, ok := t.LookupByNavigation(name)
		if !ok {
			return deepInsert{}, false, nil
		}
		if depth >= maxDeepInsertDepth {
			return deepInsert{}, true, badRequest(codeBadProperty, "Deep insert is nested more than %d levels.", maxDeepInsertDepth)
		}
		target, _ := s.reg.Table(targetName)
		delete(x, "@odata.type")
		child, err := s.decodeObjectDepth(target, x, depth+1)
		if err != nil {
			return deepInsert{}, true, err
		}
		return deepInsert{column: col, target: target, children: []*payload{child}}, true, nil
	case []any:
		rel, ok := s.reg.OneToManyFor(t.LogicalName, name)
		if !ok {
			return deepInsert{}, false, nil
		}
		if depth >= maxDeepInsertDepth {
			return deepInsert{}, true, badRequest(codeBadProperty, "Deep insert is nested more than %d levels.", maxDeepInsertDepth)
		}
		target, _ := s.reg.Table(rel.ReferencingEntity)
		d := deepInsert{rel: &rel, target: target}
		for _, it := range x {
			obj, ok := it.(map[string]any)
			if !ok {
				return deepInsert{}, true, inputError("The value of the collection-valued navigation property '%s' must be an array of objects.", name)
			}
			delete(obj, "@odata.type")
			child, err := s.decodeObjectDepth(target, obj, depth+1)
			if err != nil {
				return deepInsert{}, true, err
			}
			d.children = append(d.children, child)
		}
		return d, true, nil
	}
	return deepInsert{}, false, nil
}

// createDeepParents creates the records nested under single-valued
// navigation properties and binds the parent payload to them.
func (s *Server) createDeepParents(tx *writeTx, p *payload) error {
	for _, d := range p.deep {
		if d.column == nil {
			continue
		}
		res, err := s.createRecord(tx, d.target, d.children[0], "")
		if err != nil {
			return err
		}
		p.values[d.column.LogicalName] = lookupValue{ID: res.id, Target: d.target.LogicalName}
	}
	return nil
}

// createDeepChildren creates the records nested under collection-valued
// navigation properties, each pointing back at the new record id.
func (s *Server) createDeepChildren(tx *writeTx, t *schema.Table, id string, p *payload) error {
	for _, d := range p.deep {
		if d.rel == nil {
			continue
		}
		for _, child := range d.children {
			child.values[d.rel.ReferencingAttribute] = lookupValue{ID: id, Target: t.LogicalName}
			if _, err := s.createRecord(tx, d.target, child, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

func edmType(c *schema.Column) string {
	switch c.Type {
	case schema.TypeString, schema.TypeMemo, schema.TypeEntityName:
		return "Edm.String"
	case schema.TypeInteger, schema.TypePicklist, schema.TypeState, schema.TypeStatus:
		return "Edm.Int32"
	case schema.TypeBigInt:
		return "Edm.Int64"
	case schema.TypeDecimal, schema.TypeMoney:
		return "Edm.Decimal"
	case schema.TypeDouble:
		return "Edm.Double"
	case schema.TypeBoolean:
		return "Edm.Boolean"
	case schema.TypeDateTime:
		return "Edm.DateTimeOffset"
	case schema.TypeDateOnly:
		return "Edm.Date"
	default:
		return "Edm.Guid"
	}
}

func literalText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func cannotConvert(c *schema.Column, v any) *apiError {
	return inputError("Cannot convert the literal '%s' to the expected type '%s'.", literalText(v), edmType(c))
}

// convertValue checks one JSON value against its column definition.
func convertValue(t *schema.Table, c *schema.Column, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch c.Type {
	case schema.TypeString, schema.TypeMemo, schema.TypeEntityName:
		s, ok := v.(string)
		if !ok {
			return nil, cannotConvert(c, v)
		}
		if c.MaxLength > 0 && len([]rune(s)) > c.MaxLength {
			return nil, badRequest(codeValidation, "A validation error occurred. The length of the '%s' attribute of the '%s' entity exceeded the maximum allowed length of '%d'.", c.LogicalName, t.LogicalName, c.MaxLength)
		}
		return s, nil
	case schema.TypeInteger, schema.TypeBigInt, schema.TypePicklist, schema.TypeState, schema.TypeStatus:
		n, ok := v.(json.Number)
		if !ok {
			return nil, cannotConvert(c, v)
		}
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			return nil, cannotConvert(c, v)
		}
		if c.Type != schema.TypeBigInt && (i > math.MaxInt32 || i < math.MinInt32) {
			return nil, cannotConvert(c, v)
		}
		if c.Type.IsChoice() {
			if _, ok := c.OptionByValue(int(i)); !ok {
				return nil, optionOutOfRange(t, c, i)
			}
		}
		if err := checkRange(t, c, float64(i)); err != nil {
			return nil, err
		}
		return i, nil
	case schema.TypeDecimal, schema.TypeDouble, schema.TypeMoney:
		n, ok := v.(json.Number)
		if !ok {
			return nil, cannotConvert(c, v)
		}
		f, err := n.Float64()
		if err != nil {
			return nil, cannotConvert(c, v)
		}
		if err := checkRange(t, c, f); err != nil {
			return nil, err
		}
		return f, nil
	case schema.TypeBoolean:
		b, ok := v.(bool)
		if !ok {
			return nil, cannotConvert(c, v)
		}
		return b, nil
	case schema.TypeDateTime:
		s, ok := v.(string)
		if !ok {
			return nil, cannotConvert(c, v)
		}
		tm, err := parseDateTime(s)
		if err != nil {
			return nil, cannotConvert(c, v)
		}
		return tm.UTC().Format(dateTimeLayout), nil
	case schema.TypeDateOnly:
		s, ok := v.(string)
		if !ok {
			return nil, cannotConvert(c, v)
		}
		if tm, err := time.Parse(dateOnlyLayout, s); err == nil {
			return tm.Format(dateOnlyLayout), nil
		}
		tm, err := parseDateTime(s)
		if err != nil {
			return nil, cannotConvert(c, v)
		}
		return tm.Format(dateOnlyLayout), nil
	case schema.TypeUniqueidentifier:
		s, ok := v.(string)
		if !ok {
			return nil, cannotConvert(c, v)
		}
		id, err := uuid.Parse(s)
		if err != nil || strings.ContainsAny(s, "{}") || strings.HasPrefix(s, "urn:") {
			return nil, cannotConvert(c, v)
		}
		return id.String(), nil
	}
	return nil, cannotConvert(c, v)
}

func parseDateTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if tm, err := time.Parse(layout, s); err == nil {
			return tm, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a date: %q", s)
}

func optionOutOfRange(t *schema.Table, c *schema.Column, v int64) *apiError {
	vals := make([]string, len(c.Options))
	for i, o := range c.Options {
		vals[i] = strconv.Itoa(o.Value)
	}
	return badRequest(codeOptionOutOfRange, "A validation error occurred. The value %d of '%s' on record of type '%s' is outside the valid range. Accepted Values: %s", v, c.LogicalName, t.LogicalName, strings.Join(vals, ","))
}

func checkRange(t *schema.Table, c *schema.Column, f float64) error {
	if (c.MinValue != nil && f < *c.MinValue) || (c.MaxValue != nil && f > *c.MaxValue) {
		lo, hi := "", ""
		if c.MinValue != nil {
			lo = strconv.FormatFloat(*c.MinValue, 'f', -1, 64)
		}
		if c.MaxValue != nil {
			hi = strconv.FormatFloat(*c.MaxValue, 'f', -1, 64)
		}
		return badRequest(codeValidation, "A validation error occurred. The value of '%s' on record of type '%s' is outside the valid range (%s to %s).", c.LogicalName, t.LogicalName, lo, hi)
	}
	return nil
}

// splitEntityRef splits "/accounts(<key>)", "accounts(<key>)" or an absolute
// URL ending in "/accounts(<key>)" into the set name and the key text.
func splitEntityRef(ref string) (set, key string, err error) {
	s := ref
	if i := strings.Index(s, "/api/data/"); i >= 0 {
		s = s[i+len("/api/data/"):]
		if j := strings.IndexByte(s, '/'); j >= 0 {
			s = s[j+1:]
		}
	}
	s = strings.TrimPrefix(s, "/")
	open := strings.IndexByte(s, '(')
	if open <= 0 || !strings.HasSuffix(s, ")") {
		return "", "", fmt.Errorf("bad entity reference %q", ref)
	}
	return s[:open], s[open+1 : len(s)-1], nil
}

// parseKeySegment parses the text between the parentheses of an entity
// URL: a bare GUID, or name=value pairs naming an alternate key.
func parseKeySegment(t *schema.Table, text string) (id string, key map[string]any, err error) {
	if u, perr := uuid.Parse(text); perr == nil && !strings.ContainsAny(text, "{}=") {
		return u.String(), nil, nil
	}
	pairs, perr := splitKeyPairs(text)
	if perr != nil {
		return "", nil, badRequest(codeQueryNotSupported, "Bad Request - Error in query syntax.")
	}
	key = map[string]any{}
	var names []string
	for _, kv := range pairs {
		name, lit := kv[0], kv[1]
		var col *schema.Column
		if c, ok := t.Column(name); ok {
			col = c
		} else if c, ok := t.LookupByValueProperty(name); ok {
			col, name = c, c.LogicalName
		} else {
			return "", nil, badRequest(codeQueryNotSupported, "The key '%s' is not valid for the entity '%s'.", kv[0], t.LogicalName)
		}
		v, lerr := keyLiteral(col, lit)
		if lerr != nil {
			return "", nil, badRequest(codeQueryNotSupported, "Bad Request - Error in query syntax.")
		}
		key[name] = v
		names = append(names, name)
	}
	if len(names) == 1 && names[0] == t.PrimaryID {
		return asString(key[names[0]]), nil, nil
	}
	if _, ok := t.AlternateKeyFor(names); !ok {
		return "", nil, badRequest(codeQueryNotSupported, "The key attributes specified are not defined as an alternate key for the entity '%s'. Key attributes: %s.", t.LogicalName, strings.Join(names, ","))
	}
	return "", key, nil
}

// splitKeyPairs splits "a='x',b=1" honouring quotes (” escapes a quote).
func splitKeyPairs(text string) ([][2]string, error) {
	var out [][2]string
	i := 0
	for i < len(text) {
		eq := strings.IndexByte(text[i:], '=')
		if eq <= 0 {
			return nil, fmt.Errorf("missing '='")
		}
		name := strings.TrimSpace(text[i : i+eq])
		i += eq + 1
		start := i
		if i < len(text) && text[i] == '\'' {
			i++
			for {
				if i >= len(text) {
					return nil, fmt.Errorf("unterminated string")
				}
				if text[i] == '\'' {
					if i+1 < len(text) && text[i+1] == '\'' {
						i += 2
						continue
					}
					i++
					break
				}
				i++
			}
		} else {
			for i < len(text) && text[i] != ',' {
				i++
			}
		}
		out = append(out, [2]string{name, strings.TrimSpace(text[start:i])})
		if i < len(text) {
			if text[i] != ',' {
				return nil, fmt.Errorf("expected ','")
			}
			i++
		}
	}
	return out, nil
}

// keyLiteral converts an OData key literal to a typed value.
func keyLiteral(c *schema.Column, lit string) (any, error) {
	if strings.HasPrefix(lit, "'") {
		if len(lit) < 2 || !strings.HasSuffix(lit, "'") {
			return nil, fmt.Errorf("bad string")
		}
		s := strings.ReplaceAll(lit[1:len(lit)-1], "''", "'")
		switch c.Type {
		case schema.TypeDateTime, schema.TypeDateOnly, schema.TypeUniqueidentifier:
			return convertValue(nil, c, s)
		}
		return s, nil
	}
	switch c.Type {
	case schema.TypeInteger, schema.TypeBigInt, schema.TypePicklist, schema.TypeState, schema.TypeStatus:
		return strconv.ParseInt(lit, 10, 64)
	case schema.TypeDecimal, schema.TypeDouble, schema.TypeMoney:
		return strconv.ParseFloat(lit, 64)
	case schema.TypeBoolean:
		return strconv.ParseBool(lit)
	case schema.TypeUniqueidentifier, schema.TypeLookup, schema.TypeCustomer, schema.TypeOwner:
		u, err := uuid.Parse(lit)
		if err != nil {
			return nil, err
		}
		return u.String(), nil
	}
	return nil, fmt.Errorf("unsupported key literal %q", lit)
}

var _ = http.StatusOK
