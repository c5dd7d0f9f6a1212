package refserver

import (
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/dvsync/dvsync/dataverse/schema"
)

// FetchXML on entity sets: GET /<set>?fetchXml=<url-encoded FetchXML>, as
// "Use FetchXML with Web API" (powerapps-docs
// developer/data-platform/webapi/use-fetchxml-web-api.md) and the "Query data
// using FetchXml" pages (developer/data-platform/fetchxml/*.md) describe it.
//
// This file parses FetchXML into a fetchSpec; fetchsql.go turns the spec into
// SQL and writes the response.

// Limits of the FetchXML reader. Dataverse documents only the link-entity
// limit (join-tables.md); the nesting and size bounds are ours, set far above
// what a hand-written or generated query uses, so that a hostile document
// costs bounded memory and stack.
const (
	fetchMaxDepth     = 32    // element nesting
	fetchMaxElements  = 5000  // elements in one document
	fetchMaxLinks     = 15    // link-entity elements (join-tables.md, 0x8004430D)
	fetchMaxValueText = 65536 // characters of one <value>
	// maxFetchPageSize is the default and largest count (page-results.md).
	maxFetchPageSize = 5000
)

// Error codes and wording of FetchXML failures. "Invalid XML." with
// 0x80040201 is what Dataverse answered to a malformed fetchXml in
// XRM-OSS/Xrm-WebApi-Client#37; the link-entity limit is join-tables.md;
// AggregateQueryRecordLimit is fetchxml/aggregate-data.md. Schema-validation
// messages follow .NET's XmlSchemaValidator wording, which Dataverse reports
// for documents that do not match fetch.xsd; unknown attributes follow the
// platform's "'account' entity doesn't contain attribute with Name = 'x'"
// (widely quoted in community reports; the code is our assumption).
const (
	codeInvalidXML       = "0x80040201"
	codeNoAttribute      = "0x80041103"
	codeNoEntity         = "0x80041102"
	codeTooManyLinks     = "0x8004430D"
	codeAggregateLimit   = "0x8004E023"
	aggregateRecordLimit = 50000
)

func invalidXML() *apiError { return badRequest(codeInvalidXML, "Invalid XML.") }

func fetchSchemaError(format string, args ...any) *apiError {
	return badRequest(codeInvalidXML, format, args...)
}

func noAttribute(t *schema.Table, name string) *apiError {
	return badRequest(codeNoAttribute, "'%s' entity doesn't contain attribute with Name = '%s' and NameMapping = 'Logical'.", t.LogicalName, name)
}

func aggregateLimitExceeded() *apiError {
	return badRequest(codeAggregateLimit, "AggregateQueryRecordLimit exceeded. Cannot perform this operation.")
}

// xnode is one element of a FetchXML document.
type xnode struct {
	name  string
	attrs []xml.Attr
	kids  []*xnode
	text  strings.Builder
}

func (n *xnode) attr(name string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Local == name && a.Name.Space == "" {
			return a.Value, true
		}
	}
	return "", false
}

// checkAttrs refuses attributes fetch.xsd does not declare for the element,
// and those the reference server does not implement.
func (n *xnode) checkAttrs(allowed ...string) error {
	for _, a := range n.attrs {
		if a.Name.Space != "" {
			continue // xmlns and the like
		}
		ok := false
		for _, name := range allowed {
			if a.Name.Local == name {
				ok = true
				break
			}
		}
		if !ok {
			return fetchSchemaError("The '%s' attribute is not declared on the element '%s'.", a.Name.Local, n.name)
		}
	}
	return nil
}

// parseXMLTree reads a document into a tree without recursion, refusing
// DTDs, more than fetchMaxDepth levels and more than fetchMaxElements
// elements before they are built.
func parseXMLTree(text string) (*xnode, error) {
	dec := xml.NewDecoder(strings.NewReader(text))
	dec.Strict = true
	var stack []*xnode
	var root *xnode
	elements := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, invalidXML()
		}
		switch t := tok.(type) {
		case xml.StartElement:
			elements++
			if len(stack) >= fetchMaxDepth {
				return nil, fetchSchemaError("The FetchXML nests elements more than %d levels deep.", fetchMaxDepth)
			}
			if elements > fetchMaxElements {
				return nil, fetchSchemaError("The FetchXML has more than %d elements.", fetchMaxElements)
			}
			n := &xnode{name: t.Name.Local, attrs: append([]xml.Attr(nil), t.Attr...)}
			if len(stack) == 0 {
				if root != nil {
					return nil, invalidXML()
				}
				root = n
			} else {
				parent := stack[len(stack)-1]
				parent.kids = append(parent.kids, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if strings.TrimSpace(string(t)) != "" {
					return nil, invalidXML()
				}
				continue
			}
			top := stack[len(stack)-1]
			if top.text.Len()+len(t) > fetchMaxValueText {
				return nil, fetchSchemaError("A value in the FetchXML is longer than %d characters.", fetchMaxValueText)
			}
			top.text.Write(t)
		case xml.Directive:
			// No DTDs: entity expansion is how XML bombs work.
			return nil, invalidXML()
		}
	}
	if root == nil {
		return nil, invalidXML()
	}
	return root, nil
}

// fetchSpec is a parsed FetchXML query.
type fetchSpec struct {
	top, count, page int // 0 = absent
	pagingCookie     string
	distinct         bool
	aggregate        bool
	aggregateLimit   int
	totalCount       bool
	// rawOrder (useraworderby) sorts choice columns by value, not label.
	rawOrder bool
	root     *fetchEntity
	// entities lists the root and every link-entity in document order; the
	// index is the SQL alias number (t0, l1, l2...).
	entities []*fetchEntity
}

// fetchEntity is the <entity> element or a <link-entity>.
type fetchEntity struct {
	t        *schema.Table
	sqlAlias string
	alias    string // FetchXML alias; the prefix of linked columns
	parent   *fetchEntity
	from, to *schema.Column
	outer    bool
	// fromSQL replaces the table in FROM: an N:N intersect table is a view
	// over the stored pairs.
	fromSQL string
	all     bool
	attrs   []fetchAttr
	orders  []fetchOrder
	filters []*fetchFilter
	links   []*fetchEntity
}

type fetchAttr struct {
	col          *schema.Column
	alias        string
	aggregate    string
	groupBy      bool
	dateGrouping string
	distinct     bool
}

type fetchOrder struct {
	col   *schema.Column // nil when ordering by an aggregate alias
	attr  string         // the attribute as written, for entityname orders
	alias string
	desc  bool
	ent   *fetchEntity
	// entityName names a link-entity alias: an order on the root element
	// that sorts by a linked column first (order-rows.md).
	entityName string
}

type fetchFilter struct {
	or    bool
	conds []*fetchCond
	subs  []*fetchFilter
}

type fetchCond struct {
	ent        *fetchEntity // the entity the condition is declared on
	entityName string       // entityname attribute: a link-entity alias
	attribute  string
	op         string
	values     []string
	hasValue   bool
	valueOf    string
}

// parseFetch reads FetchXML sent to the entity set of t.
func (s *Server) parseFetch(text string, t *schema.Table) (*fetchSpec, error) {
	root, err := parseXMLTree(text)
	if err != nil {
		return nil, err
	}
	if root.name != "fetch" {
		return nil, fetchSchemaError("The root element of a FetchXML query must be 'fetch', not '%s'.", root.name)
	}
	// fetch.md lists the attributes; those the reference server does not
	// implement (datasource, latematerialize, options,
	// min-active-row-version, utc-offset) are refused, not ignored.
	if err := root.checkAttrs("version", "mapping", "count", "page", "paging-cookie", "top", "distinct", "aggregate", "aggregatelimit", "returntotalrecordcount", "no-lock", "output-format", "useraworderby"); err != nil {
		return nil, err
	}
	spec := &fetchSpec{}
	intAttr := func(name string, lo, hi int) (int, error) {
		v, ok := root.attr(name)
		if !ok {
			return 0, nil
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < lo || n > hi {
			return 0, fetchSchemaError("The '%s' attribute is invalid - The value '%s' is invalid according to its datatype; it must be an integer from %d to %d.", name, v, lo, hi)
		}
		return n, nil
	}
	boolAttr := func(name string) (bool, error) {
		v, ok := root.attr(name)
		if !ok {
			return false, nil
		}
		switch strings.TrimSpace(v) {
		case "true", "1":
			return true, nil
		case "false", "0":
			return false, nil
		}
		return false, fetchSchemaError("The '%s' attribute is invalid - The value '%s' is invalid according to its datatype 'Boolean'.", name, v)
	}
	if spec.top, err = intAttr("top", 1, maxFetchPageSize); err != nil {
		return nil, err
	}
	if spec.count, err = intAttr("count", 1, maxFetchPageSize); err != nil {
		return nil, err
	}
	if spec.page, err = intAttr("page", 1, 1<<30); err != nil {
		return nil, err
	}
	if spec.aggregateLimit, err = intAttr("aggregatelimit", 1, aggregateRecordLimit); err != nil {
		return nil, err
	}
	if spec.distinct, err = boolAttr("distinct"); err != nil {
		return nil, err
	}
	if spec.aggregate, err = boolAttr("aggregate"); err != nil {
		return nil, err
	}
	if spec.totalCount, err = boolAttr("returntotalrecordcount"); err != nil {
		return nil, err
	}
	if _, err = boolAttr("no-lock"); err != nil {
		return nil, err
	}
	if spec.rawOrder, err = boolAttr("useraworderby"); err != nil {
		return nil, err
	}
	if v, ok := root.attr("mapping"); ok && v != "logical" {
		return nil, fetchSchemaError("The 'mapping' attribute is invalid - The value '%s' is invalid; only 'logical' is supported.", v)
	}
	if v, ok := root.attr("output-format"); ok && v != "xml-platform" {
		return nil, fetchSchemaError("The 'output-format' attribute value '%s' is not supported.", v)
	}
	spec.pagingCookie, _ = root.attr("paging-cookie")
	if spec.top > 0 && (spec.count > 0 || spec.page > 0) {
		// page-results.md: "Don't use the fetch element top attribute with
		// paging"; Dataverse refuses the combination.
		return nil, fetchSchemaError("The top attribute can't be specified with paging attribute page or count.")
	}
	if spec.aggregateLimit > 0 && !spec.aggregate {
		return nil, fetchSchemaError("The aggregatelimit attribute applies only to aggregate queries (aggregate='true').")
	}
	var entity *xnode
	for _, k := range root.kids {
		if k.name != "entity" || entity != nil {
			return nil, fetchSchemaError("The element 'fetch' has invalid child element '%s'.", k.name)
		}
		entity = k
	}
	if entity == nil {
		return nil, fetchSchemaError("The element 'fetch' has incomplete content. List of possible elements expected: 'entity'.")
	}
	if err := entity.checkAttrs("name", "enableprefiltering", "prefilterparametername"); err != nil {
		return nil, err
	}
	name, _ := entity.attr("name")
	et, ok := s.reg.Table(name)
	if !ok {
		return nil, badRequest(codeNoEntity, "The entity with a name = '%s' with namemapping = 'Logical' was not found in the MetadataCache.", name)
	}
	if et != t {
		// Our wording: the set in the URL and the entity in the query
		// must name the same table.
		return nil, badRequest(codeQueryNotSupported, "The FetchXML entity '%s' does not match the entity set '%s' (table '%s').", name, t.EntitySetName, t.LogicalName)
	}
	spec.root = &fetchEntity{t: et, sqlAlias: "t0"}
	spec.entities = []*fetchEntity{spec.root}
	if err := s.parseEntityBody(spec, spec.root, entity); err != nil {
		return nil, err
	}
	return spec, s.checkFetch(spec)
}

// parseEntityBody reads the children of <entity> or <link-entity>.
func (s *Server) parseEntityBody(spec *fetchSpec, e *fetchEntity, n *xnode) error {
	for _, k := range n.kids {
		switch k.name {
		case "all-attributes":
			if err := k.checkAttrs(); err != nil {
				return err
			}
			e.all = true
		case "attribute":
			if err := k.checkAttrs("name", "alias", "aggregate", "groupby", "dategrouping", "distinct", "usertimezone", "build"); err != nil {
				return err
			}
			name, _ := k.attr("name")
			c, ok := e.t.Column(name)
			if !ok {
				return noAttribute(e.t, name)
			}
			a := fetchAttr{col: c}
			a.alias, _ = k.attr("alias")
			a.aggregate, _ = k.attr("aggregate")
			gb, _ := k.attr("groupby")
			a.groupBy = gb == "true"
			a.dateGrouping, _ = k.attr("dategrouping")
			d, _ := k.attr("distinct")
			a.distinct = d == "true"
			e.attrs = append(e.attrs, a)
		case "order":
			if err := k.checkAttrs("attribute", "alias", "descending", "entityname"); err != nil {
				return err
			}
			o := fetchOrder{ent: e}
			d, _ := k.attr("descending")
			o.desc = d == "true" || d == "1"
			o.entityName, _ = k.attr("entityname")
			if name, ok := k.attr("attribute"); ok && o.entityName != "" {
				o.attr = name // resolved once every link-entity is read
			} else if ok {
				c, ok := e.t.Column(name)
				if !ok {
					return noAttribute(e.t, name)
				}
				o.col = c
			} else if a, ok := k.attr("alias"); ok {
				o.alias = a
			} else {
				return fetchSchemaError("An order element needs an attribute or an alias.")
			}
			e.orders = append(e.orders, o)
		case "filter":
			f, err := parseFetchFilter(e, k, 1)
			if err != nil {
				return err
			}
			e.filters = append(e.filters, f)
		case "link-entity":
			if len(spec.entities) > fetchMaxLinks {
				return badRequest(codeTooManyLinks, "Number of link entities in query exceeded maximum limit.")
			}
			l, err := s.parseLink(spec, e, k)
			if err != nil {
				return err
			}
			e.links = append(e.links, l)
		default:
			return fetchSchemaError("The element '%s' has invalid child element '%s'.", n.name, k.name)
		}
	}
	return nil
}

func (s *Server) parseLink(spec *fetchSpec, parent *fetchEntity, n *xnode) (*fetchEntity, error) {
	if err := n.checkAttrs("name", "from", "to", "alias", "link-type", "visible", "intersect"); err != nil {
		return nil, err
	}
	name, _ := n.attr("name")
	t, ok := s.reg.Table(name)
	l := &fetchEntity{t: t, parent: parent, sqlAlias: "l" + strconv.Itoa(len(spec.entities))}
	if !ok {
		it, sql, ok := s.intersectTable(name)
		if !ok {
			return nil, badRequest(codeNoEntity, "The entity with a name = '%s' with namemapping = 'Logical' was not found in the MetadataCache.", name)
		}
		t, l.t, l.fromSQL = it, it, sql
	}
	from, _ := n.attr("from")
	to, _ := n.attr("to")
	if from == "" {
		from = t.PrimaryID
	}
	if to == "" {
		to = parent.t.PrimaryID
	}
	var okF, okT bool
	if l.from, okF = t.Column(from); !okF {
		return nil, noAttribute(t, from)
	}
	if l.to, okT = parent.t.Column(to); !okT {
		return nil, noAttribute(parent.t, to)
	}
	switch lt, _ := n.attr("link-type"); lt {
	case "", "inner":
	case "outer":
		l.outer = true
	default:
		// link-entity.md also lists any, not-any, all, not-all, exists, in
		// and matchfirstrowusingcrossapply; the reference server does not
		// implement them and says so.
		return nil, fetchSchemaError("The link-type '%s' is not supported by the reference server; use inner or outer.", lt)
	}
	l.alias, _ = n.attr("alias")
	if l.alias == "" {
		// Dataverse generates an alias when none is given (join-tables.md);
		// it names the table and counts link-entities.
		l.alias = t.LogicalName + strconv.Itoa(len(spec.entities))
	}
	for _, e := range spec.entities {
		if e.alias == l.alias {
			return nil, fetchSchemaError("The alias '%s' is used by more than one link-entity.", l.alias)
		}
	}
	spec.entities = append(spec.entities, l)
	return l, s.parseEntityBody(spec, l, n)
}

// intersectTable describes the intersect table of an N:N relationship for
// <link-entity name="teammembership" … intersect="true"> (join-tables.md,
// "Many-to-many relationships"): two columns named after the primary keys
// of the related tables, read from the stored pairs. Reflexive
// relationships, whose two keys share a name, are not offered.
func (s *Server) intersectTable(name string) (*schema.Table, string, bool) {
	rel, ok := s.reg.ManyToManyByIntersect(name)
	if !ok || rel.Entity1 == rel.Entity2 {
		return nil, "", false
	}
	t1, ok1 := s.reg.Table(rel.Entity1)
	t2, ok2 := s.reg.Table(rel.Entity2)
	if !ok1 || !ok2 {
		return nil, "", false
	}
	t := &schema.Table{LogicalName: name, EntitySetName: name, PrimaryID: t1.PrimaryID, Columns: []schema.Column{
		{LogicalName: t1.PrimaryID, Type: schema.TypeUniqueidentifier},
		{LogicalName: t2.PrimaryID, Type: schema.TypeUniqueidentifier},
	}}
	sql := "(SELECT id1 AS " + quoteIdent(t1.PrimaryID) + ", id2 AS " + quoteIdent(t2.PrimaryID) +
		", 0 AS " + quoteIdent(colVersion) + " FROM _associations WHERE rel = '" + strings.ReplaceAll(rel.SchemaName, "'", "''") + "')"
	return t, sql, true
}

// parseFetchFilter reads <filter type="and|or"> with conditions and nested
// filters. depth is bounded by the document depth limit already.
func parseFetchFilter(e *fetchEntity, n *xnode, depth int) (*fetchFilter, error) {
	if err := n.checkAttrs("type", "hint", "isquickfindfields", "overridequickfindrecordlimitenabled", "overridequickfindrecordlimitdisabled"); err != nil {
		return nil, err
	}
	f := &fetchFilter{}
	switch typ, _ := n.attr("type"); typ {
	case "", "and":
	case "or":
		f.or = true
	default:
		return nil, fetchSchemaError("The 'type' attribute is invalid - The value '%s' is invalid according to its datatype 'filterType' - The Enumeration constraint failed.", typ)
	}
	for _, k := range n.kids {
		switch k.name {
		case "condition":
			c, err := parseFetchCondition(e, k)
			if err != nil {
				return nil, err
			}
			f.conds = append(f.conds, c)
		case "filter":
			sub, err := parseFetchFilter(e, k, depth+1)
			if err != nil {
				return nil, err
			}
			f.subs = append(f.subs, sub)
		default:
			return nil, fetchSchemaError("The element 'filter' has invalid child element '%s'.", k.name)
		}
	}
	return f, nil
}

func parseFetchCondition(e *fetchEntity, n *xnode) (*fetchCond, error) {
	if err := n.checkAttrs("attribute", "operator", "value", "entityname", "valueof", "alias", "uiname", "uitype", "uihidden", "column", "aggregate", "rowaggregate"); err != nil {
		return nil, err
	}
	for _, banned := range []string{"column", "aggregate", "rowaggregate", "alias"} {
		if _, ok := n.attr(banned); ok {
			return nil, fetchSchemaError("The condition attribute '%s' is not supported by the reference server.", banned)
		}
	}
	c := &fetchCond{ent: e}
	c.attribute, _ = n.attr("attribute")
	c.op, _ = n.attr("operator")
	c.entityName, _ = n.attr("entityname")
	c.valueOf, _ = n.attr("valueof")
	if c.attribute == "" || c.op == "" {
		return nil, fetchSchemaError("The required attribute '%s' is missing on a condition.", map[bool]string{true: "attribute", false: "operator"}[c.attribute == ""])
	}
	if !fetchOperators[c.op] {
		return nil, fetchSchemaError("The 'operator' attribute is invalid - The value '%s' is invalid according to its datatype 'operator' - The Enumeration constraint failed.", c.op)
	}
	if v, ok := n.attr("value"); ok {
		c.values = append(c.values, v)
		c.hasValue = true
	}
	for _, k := range n.kids {
		if k.name != "value" {
			return nil, fetchSchemaError("The element 'condition' has invalid child element '%s'.", k.name)
		}
		c.values = append(c.values, k.text.String())
		c.hasValue = true
	}
	return c, nil
}

// fetchOperators are the values fetch.xsd allows for condition/@operator
// (condition.md); those the reference server implements are in
// fetchsql.go, the rest are refused there with a clear message.
var fetchOperators = func() map[string]bool {
	m := map[string]bool{}
	for _, op := range strings.Fields(`eq neq ne gt ge le lt like not-like in not-in between not-between null not-null
		yesterday today tomorrow last-seven-days next-seven-days last-week this-week next-week last-month this-month
		next-month on on-or-before on-or-after last-year this-year next-year last-x-hours next-x-hours last-x-days
		next-x-days last-x-weeks next-x-weeks last-x-months next-x-months olderthan-x-months olderthan-x-years
		olderthan-x-weeks olderthan-x-days olderthan-x-hours olderthan-x-minutes last-x-years next-x-years
		eq-userid ne-userid eq-userteams eq-useroruserteams eq-useroruserhierarchy eq-useroruserhierarchyandteams
		eq-businessid ne-businessid eq-userlanguage this-fiscal-year this-fiscal-period next-fiscal-year
		next-fiscal-period last-fiscal-year last-fiscal-period last-x-fiscal-years last-x-fiscal-periods
		next-x-fiscal-years next-x-fiscal-periods in-fiscal-year in-fiscal-period in-fiscal-period-and-year
		in-or-before-fiscal-period-and-year in-or-after-fiscal-period-and-year begins-with not-begin-with
		ends-with not-end-with under eq-or-under not-under above eq-or-above contain-values not-contain-values`) {
		m[op] = true
	}
	return m
}()

// checkFetch validates the combination of options once the whole document
// is read.
func (s *Server) checkFetch(spec *fetchSpec) error {
	for i, o := range spec.root.orders {
		if o.entityName == "" {
			continue
		}
		var target *fetchEntity
		for _, e := range spec.entities[1:] {
			if e.alias == o.entityName {
				target = e
			}
		}
		if target == nil {
			return fetchSchemaError("The order entityname '%s' names no link-entity alias in the query.", o.entityName)
		}
		c, ok := target.t.Column(o.attr)
		if !ok {
			return noAttribute(target.t, o.attr)
		}
		spec.root.orders[i].col, spec.root.orders[i].ent = c, target
	}
	for _, e := range spec.entities {
		for _, a := range e.attrs {
			switch {
			case spec.aggregate && a.aggregate == "" && !a.groupBy:
				return fetchSchemaError("An attribute of an aggregate query must have either the aggregate or the groupby attribute ('%s').", a.col.LogicalName)
			case spec.aggregate && a.alias == "":
				// aggregate-data.md: "Set the alias attribute for each attribute element."
				return fetchSchemaError("An alias is required for the attribute '%s' of an aggregate query.", a.col.LogicalName)
			case !spec.aggregate && (a.aggregate != "" || a.groupBy):
				return fetchSchemaError("The attribute '%s' uses aggregate or groupby but the fetch element does not set aggregate='true'.", a.col.LogicalName)
			}
			switch a.aggregate {
			case "", "count", "countcolumn", "sum", "avg", "min", "max":
			default:
				return fetchSchemaError("The 'aggregate' attribute is invalid - The value '%s' is invalid according to its datatype 'AggregateType' - The Enumeration constraint failed.", a.aggregate)
			}
			switch a.dateGrouping {
			case "", "day", "week", "month", "quarter", "year":
			case "fiscal-period", "fiscal-year":
				return fetchSchemaError("The dategrouping '%s' needs the organization's fiscal settings, which the reference server does not have.", a.dateGrouping)
			default:
				return fetchSchemaError("The 'dategrouping' attribute is invalid - The value '%s' is invalid according to its datatype 'DateGroupingType' - The Enumeration constraint failed.", a.dateGrouping)
			}
			if a.dateGrouping != "" && (!a.groupBy || (a.col.Type != schema.TypeDateTime && a.col.Type != schema.TypeDateOnly)) {
				return fetchSchemaError("dategrouping applies to groupby attributes of date and time columns ('%s').", a.col.LogicalName)
			}
		}
		if spec.aggregate && e.all {
			return fetchSchemaError("all-attributes cannot be used in an aggregate query.")
		}
		for _, o := range e.orders {
			if o.col == nil && !spec.aggregate {
				return fetchSchemaError("An order by alias ('%s') is allowed only in an aggregate query.", o.alias)
			}
			if o.col != nil && spec.aggregate {
				return fetchSchemaError("An aggregate query orders by alias: use <order alias='...'/> for '%s'.", o.col.LogicalName)
			}
		}
	}
	return nil
}
