package compare

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/mapping/canonical"
)

// codeAggregateLimit is AggregateQueryRecordLimit: Dataverse refuses an
// aggregate over more than 50,000 records (fetchxml/aggregate-data.md).
const codeAggregateLimit = "0x8004E023"

// DataverseServerCounts groups the cases on the Dataverse server with
// FetchXML aggregates (powerapps-docs developer/data-platform/fetchxml/
// aggregate-data.md): one request per figure, whatever the number of
// cases. Months are grouped in UTC (usertimezone="false", fetchxml/
// reference/attribute.md), so they are used only when the map's
// compare.time_zone is UTC. A figure Dataverse refuses to aggregate
// (AggregateQueryRecordLimit: over 50,000 records) is left out, and the
// report shows the streamed figure for it, saying so in Skipped.
func DataverseServerCounts(ctx context.Context, c *dataverse.Client, md *canonical.Model, since time.Time) (*ServerCounts, []string, error) {
	sc := &ServerCounts{Method: MethodDVAggregate, Counts: map[string]map[string]float64{}, SLA: map[string]map[string]int64{}}
	var skipped []string
	filter := ""
	if !since.IsZero() {
		filter = `<filter><condition attribute="createdon" operator="ge" value="` + since.UTC().Format(time.RFC3339) + `"/></filter>`
	}
	run := func(fig, fetch string) ([]dataverse.Record, error) {
		rows, err := c.FetchAggregate(ctx, fetch)
		var re *dataverse.ResponseError
		if errors.As(err, &re) && strings.EqualFold(re.Code, codeAggregateLimit) {
			skipped = append(skipped, fig)
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("dataverse aggregate (%s): %w", fig, err)
		}
		return rows, nil
	}
	num := func(r dataverse.Record, alias string) (float64, bool) {
		s := r.String(alias)
		if s == "" {
			return 0, false
		}
		v, err := strconv.ParseFloat(s, 64)
		return v, err == nil
	}
	total := -1.0
	for _, g := range []struct{ fig, col, choice string }{
		{"status", "statuscode", "statuscode"}, {"priority", "prioritycode", "prioritycode"}, {"channel", "caseorigincode", "caseorigincode"},
	} {
		rows, err := run(g.fig, `<fetch aggregate="true"><entity name="incident"><attribute name="incidentid" alias="n" aggregate="count"/>`+
			`<attribute name="`+g.col+`" alias="g" groupby="true"/>`+filter+`</entity></fetch>`)
		if err != nil {
			return nil, nil, err
		}
		if rows == nil {
			continue
		}
		sum := 0.0
		for _, r := range rows {
			n, _ := num(r, "n")
			v, ok := num(r, "g")
			label := ""
			if ok {
				label = md.ChoiceLabel(g.choice, int(v))
			}
			sc.add(g.fig, label, n)
			sum += n
		}
		total = sum
	}
	if md.Rules().Location == time.UTC {
		rows, err := run("month", `<fetch aggregate="true"><entity name="incident"><attribute name="incidentid" alias="n" aggregate="count"/>`+
			`<attribute name="createdon" alias="y" groupby="true" dategrouping="year" usertimezone="false"/>`+
			`<attribute name="createdon" alias="m" groupby="true" dategrouping="month" usertimezone="false"/>`+filter+`</entity></fetch>`)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range rows {
			n, _ := num(r, "n")
			y, yok := num(r, "y")
			m, mok := num(r, "m")
			label := ""
			if yok && mok {
				label = fmt.Sprintf("%04d-%02d", int(y), int(m))
			}
			sc.add("month", label, n)
		}
	} else {
		skipped = append(skipped, "month")
	}
	// Cases sit in queues through queue items; a case in none counts under
	// "(none)", as the streamed figure counts it.
	rows, err := run("team", `<fetch aggregate="true"><entity name="queueitem"><attribute name="queueitemid" alias="n" aggregate="count"/>`+
		`<link-entity name="queue" from="queueid" to="queueid" alias="q"><attribute name="name" alias="g" groupby="true"/></link-entity>`+
		`<link-entity name="incident" from="incidentid" to="objectid" alias="i" link-type="inner">`+filter+`</link-entity></entity></fetch>`)
	if err != nil {
		return nil, nil, err
	}
	if rows != nil && total >= 0 {
		queued := 0.0
		for _, r := range rows {
			n, _ := num(r, "n")
			sc.add("team", r.String("g"), n)
			queued += n
		}
		if total > queued {
			sc.add("team", "", total-queued)
		}
	} else if rows != nil {
		skipped = append(skipped, "team")
	}
	slaFilter := ""
	if filter != "" {
		slaFilter = `<link-entity name="incident" from="incidentid" to="regarding" link-type="inner">` + filter + `</link-entity>`
	}
	rows, err = run("sla", `<fetch aggregate="true"><entity name="slakpiinstance"><attribute name="slakpiinstanceid" alias="n" aggregate="count"/>`+
		`<attribute name="status" alias="s" groupby="true"/><attribute name="name" alias="k" groupby="true"/>`+
		`<link-entity name="slaitem" from="slaitemid" to="msdyn_slaitemid" alias="si" link-type="outer"><attribute name="name" alias="p" groupby="true"/></link-entity>`+
		slaFilter+`</entity></fetch>`)
	if err != nil {
		return nil, nil, err
	}
	if rows == nil {
		sc.SLA = nil
	}
	for _, r := range rows {
		n, _ := num(r, "n")
		policy := r.String("p")
		if policy == "" {
			policy = r.String("k")
		}
		st := kpiStatus[r.String("s")]
		if sc.SLA[policy] == nil {
			sc.SLA[policy] = map[string]int64{}
		}
		sc.SLA[policy][st] += int64(n)
	}
	for _, f := range skipped {
		delete(sc.Counts, f)
	}
	return sc, skipped, nil
}

// kpiStatus reads slakpiinstance.status: 0 In Progress, 1 Noncompliant,
// 2 Nearing Noncompliance, 3 Paused, 4 Succeeded, 5 Canceled.
var kpiStatus = map[string]string{"0": SLAInProgress, "1": SLABreached, "2": SLAInProgress, "3": SLAInProgress, "4": SLAMet, "5": SLACancelled}
