package dataverse

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// FetchXML queries through the Web API: GET /<set>?fetchXml=<url-encoded
// query>, paged with paging cookies (powerapps-docs
// developer/data-platform/webapi/use-fetchxml-web-api.md and
// fetchxml/page-results.md, Web API tab). Use it for queries users already
// hold as FetchXML (Advanced Find, XrmToolBox, SQL 4 CDS) and for
// server-side aggregates (fetchxml/aggregate-data.md).

// FetchOptions configure Fetch. The zero value pages 5,000 records at a
// time, or by the query's own count attribute.
type FetchOptions struct {
	// PageSize sets the fetch element's count (1–5,000); 0 keeps the
	// query's count, or 5,000 when it has none.
	PageSize int
}

// maxFetchPage is the largest FetchXML page (page-results.md).
const maxFetchPage = 5000

// fetchPage is one response to a FetchXML query.
type fetchPage struct {
	Value  []Record `json:"value"`
	Cookie string   `json:"@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"`
	More   bool     `json:"@Microsoft.Dynamics.CRM.morerecords"`
}

// Fetch runs a FetchXML query and yields every record it matches, page by
// page with the paging cookie Dataverse returns, so memory holds one page.
// A query with a top attribute is one request. Linked columns arrive as
// "<alias>.<column>"; FetchXML leaves null values out of each record.
func (c *Client) Fetch(ctx context.Context, fetchXML string, opts *FetchOptions) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		var o FetchOptions
		if opts != nil {
			o = *opts
		}
		q, err := parseFetchQuery(fetchXML)
		if err != nil {
			yield(nil, err)
			return
		}
		if o.PageSize < 0 || o.PageSize > maxFetchPage {
			yield(nil, fmt.Errorf("dataverse: FetchXML page size %d is outside 1–%d", o.PageSize, maxFetchPage))
			return
		}
		t, err := c.Table(ctx, q.entity)
		if err != nil {
			yield(nil, err)
			return
		}
		page, cookie := 1, ""
		for {
			text, err := q.render(o.PageSize, page, cookie)
			if err != nil {
				yield(nil, err)
				return
			}
			var out fetchPage
			_, err = c.doJSON(ctx, request{
				method: http.MethodGet, path: t.EntitySetName, query: "fetchXml=" + fetchEscape(text),
				header: http.Header{"Prefer": {`odata.include-annotations="Microsoft.Dynamics.CRM.fetchxmlpagingcookie,Microsoft.Dynamics.CRM.morerecords"`}},
			}, &out)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, r := range out.Value {
				if !yield(r, nil) {
					return
				}
			}
			if q.top || q.aggregate || !out.More {
				return
			}
			// Without a cookie Dataverse pages by number alone (simple
			// paging, page-results.md); with one, it is sent back unchanged.
			cookie = ""
			if out.Cookie != "" {
				if cookie, err = innerPagingCookie(out.Cookie); err != nil {
					yield(nil, err)
					return
				}
			}
			page++
		}
	}
}

// FetchAggregate runs an aggregate FetchXML query (aggregate="true") and
// returns its rows, each keyed by the attribute aliases. Dataverse refuses
// an aggregate over more than 50,000 records with AggregateQueryRecordLimit
// (fetchxml/aggregate-data.md); that error is returned as is.
func (c *Client) FetchAggregate(ctx context.Context, fetchXML string) ([]Record, error) {
	q, err := parseFetchQuery(fetchXML)
	if err != nil {
		return nil, err
	}
	if !q.aggregate {
		return nil, errors.New(`dataverse: FetchAggregate needs a query with aggregate="true"`)
	}
	var rows []Record
	for r, err := range c.Fetch(ctx, fetchXML, nil) {
		if err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// fetchQuery is a FetchXML document read into tokens, so that paging
// attributes can be set on its fetch element.
type fetchQuery struct {
	tokens    []xml.Token
	entity    string
	top       bool
	aggregate bool
}

// parseFetchQuery checks the document's shape: a fetch root holding an
// entity with a name. The server judges the rest.
func parseFetchQuery(text string) (*fetchQuery, error) {
	dec := xml.NewDecoder(strings.NewReader(text))
	q := &fetchQuery{}
	depth := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("dataverse: FetchXML is not well-formed: %w", err)
		}
		tok = xml.CopyToken(tok)
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case depth == 1 && t.Name.Local != "fetch":
				return nil, fmt.Errorf("dataverse: FetchXML root element is %q, want fetch", t.Name.Local)
			case depth == 1:
				for _, a := range t.Attr {
					switch a.Name.Local {
					case "top":
						q.top = true
					case "aggregate":
						q.aggregate = a.Value == "true" || a.Value == "1"
					}
				}
			case depth == 2 && t.Name.Local == "entity":
				for _, a := range t.Attr {
					if a.Name.Local == "name" {
						q.entity = a.Value
					}
				}
			}
		case xml.EndElement:
			depth--
		case xml.Directive:
			return nil, errors.New("dataverse: FetchXML must not carry a DTD")
		}
		q.tokens = append(q.tokens, tok)
	}
	if q.entity == "" {
		return nil, errors.New("dataverse: FetchXML needs <fetch><entity name=\"…\">")
	}
	return q, nil
}

// render writes the query with count, page and paging-cookie set on the
// fetch element (a top query is left as written).
func (q *fetchQuery) render(pageSize, page int, cookie string) (string, error) {
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	rootDone := false
	for _, tok := range q.tokens {
		if se, ok := tok.(xml.StartElement); ok && !rootDone {
			rootDone = true
			if !q.top {
				var attrs []xml.Attr
				count := ""
				for _, a := range se.Attr {
					switch a.Name.Local {
					case "page", "paging-cookie":
						continue
					case "count":
						count = a.Value
						continue
					}
					attrs = append(attrs, a)
				}
				if pageSize > 0 {
					count = strconv.Itoa(pageSize)
				}
				if count != "" {
					attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "count"}, Value: count})
				}
				attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "page"}, Value: strconv.Itoa(page)})
				if cookie != "" {
					attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "paging-cookie"}, Value: cookie})
				}
				se.Attr = attrs
			}
			tok = se
		}
		if err := enc.EncodeToken(tok); err != nil {
			return "", fmt.Errorf("dataverse: writing FetchXML: %w", err)
		}
	}
	if err := enc.Flush(); err != nil {
		return "", err
	}
	return buf.String(), nil
}

var pagingCookieAttr = regexp.MustCompile(`pagingcookie="([^"]*)"`)

// innerPagingCookie takes the pagingcookie attribute out of the
// fetchxmlpagingcookie annotation and URL-decodes it twice, as
// page-results.md instructs.
func innerPagingCookie(annotation string) (string, error) {
	m := pagingCookieAttr.FindStringSubmatch(annotation)
	if m == nil {
		return "", fmt.Errorf("dataverse: paging cookie annotation %q has no pagingcookie attribute", annotation)
	}
	v := m[1]
	for i := 0; i < 2; i++ {
		d, err := url.PathUnescape(v)
		if err != nil {
			return "", fmt.Errorf("dataverse: paging cookie is not URL-encoded: %w", err)
		}
		v = d
	}
	return v, nil
}

// fetchEscape URL-encodes a FetchXML document for the fetchXml parameter,
// spaces as %20.
func fetchEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}
