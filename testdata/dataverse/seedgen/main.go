// Command seedgen writes the seed data set of the reference Dataverse server:
// a fictional smart-home appliance maker, Harbor Lane Home, running customer
// service on Dynamics 365 (users, teams, accounts, contacts, products, SLAs,
// entitlements, cases, notes, knowledge articles, queues).
//
// Output is one JSON file per table, NN-<entitysetname>.json, each an array of
// Web API create payloads (primary key included, lookups as @odata.bind,
// choices as integers). Files are meant to be loaded in lexical order; every
// record only binds to records created before it.
//
// Generation is deterministic: identifiers are name-based UUIDs and every
// table draws from its own fixed-seed random stream, so re-running the
// command reproduces the committed files byte for byte.
//
//	go run ./testdata/dataverse/seedgen -out testdata/dataverse/seed
//	go run ./testdata/dataverse/seedgen -check                 # committed files up to date?
//	go run ./testdata/dataverse/seedgen -out /tmp/bench -incidents 1000000
//
// With -incidents N the base files are written too, plus 90-incidents.json
// holding N extra cases, streamed so that memory use does not grow with N.
// Write that to a scratch directory: it is far too large to commit.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

const (
	committedDir = "testdata/dataverse/seed"
	bulkFile     = "90-incidents.json"
	// seed of every random stream; change it and every file changes.
	randomSeed = 20251101
)

var (
	// idNamespace makes the name-based record identifiers of this data set
	// distinct from any other generator's.
	idNamespace = uuid.MustParse("5d0a7c3e-9b21-4f6a-8e4d-2c7b1a9f0e63")
	// now is the data set's "today": cases are spread over the months before.
	now = time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
)

func main() {
	out := flag.String("out", committedDir, "directory to write the seed files to")
	bulk := flag.Int("incidents", 0, "also write `N` extra incidents to "+bulkFile+" (benchmarks; use a scratch -out)")
	check := flag.Bool("check", false, "compare the generated files with those in -out instead of writing; exit 1 when they differ")
	flag.Parse()
	if err := run(*out, *bulk, *check); err != nil {
		fmt.Fprintln(os.Stderr, "seedgen:", err)
		os.Exit(1)
	}
}

func run(out string, bulk int, check bool) error {
	if bulk < 0 {
		return fmt.Errorf("-incidents must be positive, got %d", bulk)
	}
	if bulk > 0 && filepath.ToSlash(filepath.Clean(out)) == committedDir {
		return fmt.Errorf("refusing to write %d bulk incidents into %s, which is committed; pass a scratch -out", bulk, committedDir)
	}
	g := newGenerator()
	files := g.generate()
	if check {
		return checkFiles(out, files)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(out, f.name), f.encode(), 0o644); err != nil {
			return err
		}
	}
	if bulk > 0 {
		if err := writeAtomically(filepath.Join(out, bulkFile), func(w io.Writer) error {
			return g.writeBulkIncidents(w, bulk)
		}); err != nil {
			return err
		}
	}
	return nil
}

func checkFiles(dir string, files []seedFile) error {
	var stale []string
	want := map[string]bool{}
	for _, f := range files {
		want[f.name] = true
		have, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil || !bytes.Equal(have, f.encode()) {
			stale = append(stale, f.name)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") && !want[e.Name()] {
			stale = append(stale, e.Name()+" (not generated)")
		}
	}
	if len(stale) > 0 {
		return fmt.Errorf("%s is out of date (%s); run go run ./testdata/dataverse/seedgen -out %s", dir, strings.Join(stale, ", "), dir)
	}
	return nil
}

// writeAtomically streams into a temporary file and renames it into place,
// so an interrupted run never leaves a truncated seed file behind.
func writeAtomically(path string, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".seedgen-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ---- records ---------------------------------------------------------------

type field struct {
	key   string
	value any
}

// record is a create payload whose properties keep their insertion order,
// so that files diff well: primary key first, then data, then bindings.
type record []field

func (r *record) set(key string, value any) { *r = append(*r, field{key, value}) }

// bind adds "<nav>@odata.bind": "/<set>(<id>)".
func (r *record) bind(nav, set string, id uuid.UUID) {
	r.set(nav+"@odata.bind", "/"+set+"("+id.String()+")")
}

func (r record) appendJSON(buf *bytes.Buffer) {
	buf.WriteByte('{')
	for i, f := range r {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeJSONValue(buf, f.key)
		buf.WriteByte(':')
		writeJSONValue(buf, f.value)
	}
	buf.WriteByte('}')
}

func writeJSONValue(buf *bytes.Buffer, v any) {
	// Fast paths keep -incidents 1000000 quick; anything unusual goes
	// through encoding/json.
	switch x := v.(type) {
	case int:
		buf.Write(strconv.AppendInt(buf.AvailableBuffer(), int64(x), 10))
		return
	case bool:
		buf.Write(strconv.AppendBool(buf.AvailableBuffer(), x))
		return
	case string:
		if plainASCII(x) {
			buf.WriteByte('"')
			buf.WriteString(x)
			buf.WriteByte('"')
			return
		}
	}
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false) // article bodies are HTML; keep them readable
	if err := enc.Encode(v); err != nil {
		panic(err) // only strings, numbers and booleans are written
	}
	buf.Truncate(buf.Len() - 1) // Encode's newline
}

// plainASCII reports whether s can be written between quotes as is.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

type seedFile struct {
	name    string
	records []record
}

// encode renders the file as a JSON array with one record per line.
func (f seedFile) encode() []byte {
	var buf bytes.Buffer
	buf.WriteString("[\n")
	for i, r := range f.records {
		r.appendJSON(&buf)
		if i < len(f.records)-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteString("]\n")
	return buf.Bytes()
}

// ---- helpers -----------------------------------------------------------------

func recordID(table string, n int) uuid.UUID {
	return uuid.NewSHA1(idNamespace, []byte(fmt.Sprintf("%s/%d", table, n)))
}

// stream returns the random stream of one table, independent of the others
// so that changing one table leaves the rest of the data set unchanged.
func stream(name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(randomSeed, h.Sum64()))
}

func pick[T any](r *rand.Rand, items []T) T { return items[r.IntN(len(items))] }

// chance reports true with probability p.
func chance(r *rand.Rand, p float64) bool { return r.Float64() < p }

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// workTime returns a moment during business hours, days after start.
func workTime(r *rand.Rand, start time.Time, days int) time.Time {
	d := start.AddDate(0, 0, days)
	for d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
		d = d.AddDate(0, 0, 1)
	}
	return time.Date(d.Year(), d.Month(), d.Day(), 8+r.IntN(10), r.IntN(60), r.IntN(60), 0, time.UTC)
}

func slug(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteRune(c)
		case c == ' ' || c == '-':
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
				b.WriteByte('-')
			}
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

const ticketAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// ticketSuffix mimics the random part of Dataverse case numbers
// (CAS-01234-R8T3D9).
func ticketSuffix(r *rand.Rand) string {
	b := make([]byte, 6)
	for i := range b {
		b[i] = ticketAlphabet[r.IntN(len(ticketAlphabet))]
	}
	return string(b)
}

// ---- reference data (all fictional) ------------------------------------------

type place struct {
	city, state, postal, country, phonePrefix string
}

// Phone numbers use ranges reserved for fiction: 555-01xx in North America,
// Ofcom's drama ranges in the UK.
var places = []place{
	{"Seattle", "WA", "98101", "United States", "+1 206 555 01"},
	{"Portland", "OR", "97204", "United States", "+1 503 555 01"},
	{"Denver", "CO", "80202", "United States", "+1 303 555 01"},
	{"Austin", "TX", "78701", "United States", "+1 512 555 01"},
	{"Chicago", "IL", "60601", "United States", "+1 312 555 01"},
	{"Boston", "MA", "02108", "United States", "+1 617 555 01"},
	{"Minneapolis", "MN", "55401", "United States", "+1 612 555 01"},
	{"Atlanta", "GA", "30303", "United States", "+1 404 555 01"},
	{"Toronto", "ON", "M5H 2N2", "Canada", "+1 416 555 01"},
	{"Vancouver", "BC", "V6B 1A1", "Canada", "+1 604 555 01"},
	{"London", "England", "EC1A 1BB", "United Kingdom", "+44 20 7946 00"},
	{"Manchester", "England", "M1 1AE", "United Kingdom", "+44 161 496 00"},
}

var streets = []string{"Harbor", "Maple", "Cedar", "Lakeview", "Union", "Mill", "Orchard", "Station", "Bridge", "Elm", "Summit", "Wharf"}

var companyPrefixes = []string{
	"Alderbrook", "Bluefen", "Cobalt Ridge", "Driftwood", "Emberline", "Fernhollow", "Granite Bay",
	"Harrowgate", "Ironleaf", "Juniper Creek", "Kestrel", "Larkspur", "Maple Hollow", "Northmere",
	"Oakstone", "Pinecrest", "Quarry Point", "Redwater", "Silverpine", "Tidewell", "Upland",
	"Valemont", "Westbrook", "Yarrowfield", "Zephyr",
}

type companyKind struct {
	suffix   string
	industry int // account.industrycode
}

var companyKinds = []companyKind{
	{"Logistics", 30}, {"Dental Group", 11}, {"Foods", 17}, {"Engineering", 7}, {"Insurance", 20},
	{"Outfitters", 22}, {"Legal", 21}, {"Health Partners", 11}, {"Manufacturing", 12}, {"Hotels", 13},
	{"Energy", 31}, {"Realty", 29}, {"Consulting", 7}, {"Print & Media", 3}, {"Wholesale", 33},
	{"Auto Group", 32}, {"Financial", 16}, {"Equipment Rental", 15},
}

var firstNames = []string{
	"Avery", "Blake", "Camila", "Dario", "Elena", "Farah", "Gideon", "Hana", "Ivo", "Jada",
	"Kai", "Lena", "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Soren", "Tess",
	"Uma", "Viktor", "Wren", "Xavier", "Yara", "Zane", "Aiko", "Bruno", "Clara", "Dmitri",
	"Esme", "Felix", "Greta", "Hugo", "Isla", "Jonah", "Keira", "Luca", "Maren", "Noel",
	"Olive", "Pavel", "Rhea", "Silas", "Tomas", "Vera", "Wade", "Ximena", "Yusuf", "Zoe",
}

var lastNames = []string{
	"Abernathy", "Baptiste", "Castellano", "Delacroix", "Eriksen", "Fairweather", "Galloway", "Hollis",
	"Ishikawa", "Jablonski", "Kowalczyk", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Pellegrini",
	"Quintero", "Ramsey", "Sorensen", "Takahashi", "Underhill", "Valdivia", "Whitlock", "Xu",
	"Yamamoto", "Zielinski", "Ashdown", "Brennan", "Calloway", "Drummond", "Ellery", "Fontaine",
	"Greer", "Halvorsen", "Iversen", "Joubert", "Kinsella", "Lachance", "Marchetti", "Nordin",
}

var contactTitles = []string{
	"Facilities Manager", "Office Manager", "IT Coordinator", "Operations Director", "Purchasing Lead",
	"Site Supervisor", "Owner", "Property Manager", "Building Engineer", "Administrative Assistant",
}

// ---- generator ------------------------------------------------------------------

type ref struct {
	id   uuid.UUID
	name string
}

type account struct {
	ref
	domain   string
	place    place
	contacts []int // indexes into gen.contacts
}

type contact struct {
	ref
	account int
}

type product struct {
	ref
	short    string
	family   int // index of the family product, -1 for families and services
	active   bool
	isDevice bool
}

type slaTier struct {
	ref
	firstResponse, resolve int // minutes
	items                  [2]uuid.UUID
}

type entitlement struct {
	ref
	active       bool
	sla          int
	customerIsAc bool
	customer     int
}

type incidentRef struct {
	ref
	customerAccount int // -1 when the customer is a contact
	customerContact int
	active          bool
	created         time.Time
	sla             int // -1 without SLA
	state, status   int
}

type generator struct {
	businessUnits []uuid.UUID
	users         []ref
	agents        []int // indexes of users working cases
	teams         []ref
	holidays      uuid.UUID
	businessHours uuid.UUID
	workingDay    uuid.UUID
	languages     map[string]uuid.UUID
	subjects      map[string]uuid.UUID
	queues        []ref
	slas          []slaTier
	kpis          [2]uuid.UUID
	templates     []ref
	accounts      []account
	contacts      []contact
	products      []product
	entitlements  []entitlement
	// entitlementsByAccount/Contact list active entitlement indexes.
	entitlementsByAccount map[int][]int
	entitlementsByContact map[int][]int
	incidents             []incidentRef
	articles              []ref
}

func newGenerator() *generator {
	return &generator{
		languages:             map[string]uuid.UUID{},
		subjects:              map[string]uuid.UUID{},
		entitlementsByAccount: map[int][]int{},
		entitlementsByContact: map[int][]int{},
	}
}

func (g *generator) generate() []seedFile {
	return []seedFile{
		{"01-businessunits.json", g.businessUnitRecords()},
		{"02-systemusers.json", g.userRecords()},
		{"03-teams.json", g.teamRecords()},
		{"04-calendars.json", g.calendarRecords()},
		{"05-languagelocale.json", g.languageRecords()},
		{"06-subjects.json", g.subjectRecords()},
		{"07-queues.json", g.queueRecords()},
		{"08-products.json", g.productRecords()},
		{"09-slas.json", g.slaRecords()},
		{"10-msdyn_slakpis.json", g.kpiRecords()},
		{"11-slaitems.json", g.slaItemRecords()},
		{"12-entitlementtemplates.json", g.templateRecords()},
		{"13-accounts.json", g.accountRecords()},
		{"14-contacts.json", g.contactRecords()},
		{"15-entitlements.json", g.entitlementRecords()},
		{"16-entitlementchannels.json", g.channelRecords()},
		{"17-incidents.json", g.incidentRecords()},
		{"18-slakpiinstances.json", g.kpiInstanceRecords()},
		{"19-knowledgearticles.json", g.articleRecords()},
		{"20-annotations.json", g.noteRecords()},
		{"21-queueitems.json", g.queueItemRecords()},
		{"22-incidentresolutions.json", g.resolutionRecords()},
		{"23-calendarrules.json", g.calendarRuleRecords()},
	}
}

func (g *generator) owner(r *record, rng *rand.Rand, teamShare float64) {
	// ownerid is one navigation property whatever the owner type; the entity
	// set in the reference says whether it is a user or a team.
	if len(g.teams) > 0 && chance(rng, teamShare) {
		r.bind("ownerid", "teams", pick(rng, g.teams).id)
		return
	}
	r.bind("ownerid", "systemusers", g.users[pick(rng, g.agents)].id)
}

func (g *generator) businessUnitRecords() []record {
	names := []struct{ name, division string }{
		{"Harbor Lane Home", ""},
		{"Harbor Lane Home Service", "Customer Service"},
	}
	var out []record
	for i, bu := range names {
		id := recordID("businessunit", i)
		g.businessUnits = append(g.businessUnits, id)
		r := record{}
		r.set("businessunitid", id.String())
		r.set("name", bu.name)
		if bu.division != "" {
			r.set("divisionname", bu.division)
			r.bind("parentbusinessunitid", "businessunits", g.businessUnits[0])
		}
		r.set("emailaddress", "service@harborlane.example")
		r.set("websiteurl", "https://www.harborlane.example")
		out = append(out, r)
	}
	return out
}

func (g *generator) userRecords() []record {
	type person struct{ first, last, title string }
	staff := []person{
		{"Marisol", "Okonkwo", "Customer Service Manager"},
		{"Theo", "Lindgren", "Customer Service Supervisor"},
		{"Anouk", "Varga", "Customer Service Supervisor"},
		{"Ravi", "Castellanos", "Knowledge Manager"},
		{"Ines", "Holloway", "Senior Support Engineer"},
		{"Callum", "Verhoeven", "Senior Support Engineer"},
		{"Yuki", "Brannigan", "Support Engineer"},
		{"Dante", "Sokolova", "Support Engineer"},
		{"Freya", "Mbeki", "Support Engineer"},
		{"Oskar", "Delgado", "Customer Service Representative"},
		{"Leila", "Fitzgerald", "Customer Service Representative"},
		{"Mikael", "Osei", "Customer Service Representative"},
		{"Serena", "Kowalski", "Customer Service Representative"},
		{"Jonas", "Achterberg", "Customer Service Representative"},
		{"Pilar", "Nakashima", "Customer Service Representative"},
		{"Tobias", "Quist", "Customer Service Representative"},
		{"Ada", "Ferreira", "Customer Service Representative"},
		{"Bram", "Oyelaran", "Billing Specialist"},
		{"Celine", "Marchand", "Field Service Coordinator"},
	}
	rng := stream("systemuser")
	var out []record
	for i, p := range staff {
		id := recordID("systemuser", i)
		full := p.first + " " + p.last
		g.users = append(g.users, ref{id, full})
		if i >= 4 && i <= 16 || i == 17 {
			g.agents = append(g.agents, i)
		}
		email := strings.ToLower(p.first+"."+p.last) + "@harborlane.example"
		r := record{}
		r.set("systemuserid", id.String())
		r.set("firstname", p.first)
		r.set("lastname", p.last)
		r.set("domainname", email)
		r.set("internalemailaddress", email)
		r.set("title", p.title)
		r.set("jobtitle", p.title)
		r.set("mobilephone", fmt.Sprintf("+1 206 555 01%02d", 10+i))
		r.set("azureactivedirectoryobjectid", recordID("aad-user", i).String())
		r.set("accessmode", 0)
		r.bind("businessunitid", "businessunits", g.businessUnits[1])
		if i > 0 {
			manager := 0
			if i >= 4 {
				manager = 1 + rng.IntN(2)
			}
			r.bind("parentsystemuserid", "systemusers", g.users[manager].id)
		}
		r.set("overriddencreatedon", timestamp(workTime(rng, time.Date(2023, 3, 1, 0, 0, 0, 0, time.UTC), i*17)))
		out = append(out, r)
	}
	// The application user dvsync itself would run as in a real environment.
	id := recordID("systemuser", len(staff))
	g.users = append(g.users, ref{id, "# dvsync integration"})
	r := record{}
	r.set("systemuserid", id.String())
	r.set("firstname", "#")
	r.set("lastname", "dvsync integration")
	r.set("domainname", "dvsync-integration@harborlane.example")
	r.set("internalemailaddress", "dvsync-integration@harborlane.example")
	r.set("accessmode", 4)
	r.set("applicationid", recordID("app", 0).String())
	r.set("azureactivedirectoryobjectid", recordID("aad-app", 0).String())
	r.bind("businessunitid", "businessunits", g.businessUnits[0])
	out = append(out, r)
	return out
}

func (g *generator) teamRecords() []record {
	teams := []struct {
		name, description string
		admin             int
	}{
		{"Tier 1 Agents", "Front-line agents answering phone, email and web cases.", 1},
		{"Tier 2 Specialists", "Engineers who take escalated device and connectivity problems.", 2},
		{"Premium Care", "Named agents for customers on Premium and Priority Care entitlements.", 0},
	}
	var out []record
	for i, t := range teams {
		id := recordID("team", i)
		g.teams = append(g.teams, ref{id, t.name})
		r := record{}
		r.set("teamid", id.String())
		r.set("name", t.name)
		r.set("description", t.description)
		r.set("teamtype", 0)
		r.set("emailaddress", slug(t.name)+"@harborlane.example")
		r.bind("businessunitid", "businessunits", g.businessUnits[1])
		r.bind("administratorid", "systemusers", g.users[t.admin].id)
		out = append(out, r)
	}
	return out
}

func (g *generator) calendarRecords() []record {
	g.holidays = recordID("calendar", 0)
	g.businessHours = recordID("calendar", 1)
	holidays := record{}
	holidays.set("calendarid", g.holidays.String())
	holidays.set("name", "Harbor Lane public holidays 2025")
	holidays.set("description", "New Year's Day, Memorial Day, Independence Day, Labor Day, Thanksgiving, Christmas Day.")
	holidays.set("type", 2)
	holidays.bind("businessunitid", "businessunits", g.businessUnits[0])
	hours := record{}
	hours.set("calendarid", g.businessHours.String())
	hours.set("name", "Support hours Mon-Fri 08:00-18:00 Pacific")
	hours.set("description", "Business hours used by every SLA: weekdays 08:00-18:00 (UTC-08:00), closed on public holidays.")
	hours.set("type", 1)
	hours.bind("businessunitid", "businessunits", g.businessUnits[0])
	hours.bind("holidayschedulecalendarid", "calendars", g.holidays)
	// The working day of the support hours, as Dataverse keeps it: an
	// inner calendar referenced by the weekly rule (calendar-entities).
	g.workingDay = recordID("calendar", 2)
	day := record{}
	day.set("calendarid", g.workingDay.String())
	day.set("name", "Support hours working day")
	day.set("type", -1)
	day.bind("businessunitid", "businessunits", g.businessUnits[0])
	return []record{holidays, hours, day}
}

// calendarRuleRecords gives the support hours their rules, which the
// reference server's SLA engine counts warning and failure times in: a
// weekly Monday-Friday rule (Pacific time, timezonecode 4) whose inner
// calendar is available 08:00-18:00, and the 2025 public holidays.
func (g *generator) calendarRuleRecords() []record {
	pacific := time.FixedZone("PST", -8*3600)
	weekly := record{}
	weekly.set("calendarruleid", recordID("calendarrule", 0).String())
	weekly.set("name", "Weekdays")
	weekly.bind("calendarid", "calendars", g.businessHours)
	weekly.bind("innercalendarid", "calendars", g.workingDay)
	weekly.set("pattern", "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TU,WE,TH,FR")
	weekly.set("offset", 0)
	weekly.set("duration", 1440)
	weekly.set("timezonecode", 4)
	weekly.set("extentcode", 1)
	weekly.set("rank", 0)
	work := record{}
	work.set("calendarruleid", recordID("calendarrule", 1).String())
	work.set("name", "Working hours")
	work.bind("calendarid", "calendars", g.workingDay)
	work.set("offset", 480)
	work.set("duration", 600)
	work.set("timecode", 0)
	work.set("subcode", 1)
	work.set("rank", 0)
	out := []record{weekly, work}
	for i, h := range []struct {
		name  string
		month time.Month
		day   int
	}{
		{"New Year's Day", 1, 1}, {"Memorial Day", 5, 26}, {"Independence Day", 7, 4},
		{"Labor Day", 9, 1}, {"Thanksgiving", 11, 27}, {"Christmas Day", 12, 25},
	} {
		r := record{}
		r.set("calendarruleid", recordID("calendarrule", 2+i).String())
		r.set("name", h.name)
		r.bind("calendarid", "calendars", g.holidays)
		r.set("starttime", timestamp(time.Date(2025, h.month, h.day, 0, 0, 0, 0, pacific)))
		r.set("duration", 1440)
		r.set("timecode", 2)
		r.set("timezonecode", 4)
		out = append(out, r)
	}
	return out
}

func (g *generator) languageRecords() []record {
	langs := []struct {
		code, name, language, region string
		lcid                         int
	}{
		{"en-US", "English (United States)", "English", "United States", 1033},
		{"de-DE", "German (Germany)", "German", "Germany", 1031},
		{"fr-FR", "French (France)", "French", "France", 1036},
	}
	var out []record
	for i, l := range langs {
		id := recordID("languagelocale", i)
		g.languages[l.code] = id
		r := record{}
		r.set("languagelocaleid", id.String())
		r.set("name", l.name)
		r.set("code", l.code)
		r.set("language", l.language)
		r.set("region", l.region)
		r.set("localeid", l.lcid)
		out = append(out, r)
	}
	return out
}

var subjectTitles = []string{"Default Subject", "Installation", "Connectivity", "Hardware Fault", "Billing", "Account Access", "Returns & Warranty", "How-to"}

func (g *generator) subjectRecords() []record {
	var out []record
	for i, title := range subjectTitles {
		id := recordID("subject", i)
		g.subjects[title] = id
		r := record{}
		r.set("subjectid", id.String())
		r.set("title", title)
		if i > 0 {
			r.bind("parentsubject", "subjects", g.subjects["Default Subject"])
		}
		out = append(out, r)
	}
	return out
}

func (g *generator) queueRecords() []record {
	queues := []struct {
		name, email, description string
		private                  bool
		team                     int
	}{
		{"Tier 1 Support", "tier1@harborlane.example", "New phone, email and web cases.", false, 0},
		{"Tier 2 Technical", "tier2@harborlane.example", "Escalated hardware and connectivity cases.", false, 1},
		{"Billing & Returns", "billing@harborlane.example", "Invoices, subscriptions, returns and warranty claims.", false, 0},
		{"Premium Customers", "premium@harborlane.example", "Cases from customers with Premium or Priority Care entitlements.", false, 2},
		{"Knowledge Review", "", "Articles waiting for review before publishing.", true, -1},
	}
	var out []record
	for i, q := range queues {
		id := recordID("queue", i)
		g.queues = append(g.queues, ref{id, q.name})
		r := record{}
		r.set("queueid", id.String())
		r.set("name", q.name)
		r.set("description", q.description)
		if q.email != "" {
			r.set("emailaddress", q.email)
		}
		viewType := 0
		if q.private {
			viewType = 1
		}
		r.set("queueviewtype", viewType)
		r.bind("businessunitid", "businessunits", g.businessUnits[1])
		if q.team >= 0 {
			r.bind("ownerid", "teams", g.teams[q.team].id)
		} else {
			r.bind("ownerid", "systemusers", g.users[3].id)
		}
		out = append(out, r)
	}
	return out
}

func (g *generator) productRecords() []record {
	type spec struct {
		name, short, number, vendor, subject string
		family                               int // -1: family itself; -2: service
		kind, state                          int // producttypecode; statecode
		description                          string
	}
	specs := []spec{
		{"Aurora Climate", "", "PRD-F100", "Harbor Lane Home", "Default Subject", -1, 1, 0, "Thermostats, sensors and air quality devices."},
		{"Beacon Security", "", "PRD-F200", "Harbor Lane Home", "Default Subject", -1, 1, 0, "Doorbells, cameras, locks and alarm devices."},
		{"Cascade Water", "", "PRD-F300", "Harbor Lane Home", "Default Subject", -1, 1, 0, "Leak detection and irrigation devices."},
		{"Aurora Smart Thermostat T2", "thermostat", "PRD-1001", "Harbor Lane Home", "Hardware Fault", 0, 1, 0, "Wi-Fi thermostat with learning schedule, 2nd generation."},
		{"Aurora Smart Thermostat T3 Pro", "thermostat", "PRD-1002", "Harbor Lane Home", "Hardware Fault", 0, 1, 0, "Thermostat with humidity control and remote sensors."},
		{"Aurora Room Sensor", "room sensor", "PRD-1003", "Harbor Lane Home", "Hardware Fault", 0, 1, 0, "Battery-powered temperature and occupancy sensor."},
		{"Aurora Air Purifier AP40", "air purifier", "PRD-1004", "Fenwick Appliances Ltd.", "Hardware Fault", 0, 1, 0, "HEPA air purifier for rooms up to 40 m2."},
		{"Aurora Humidifier H20", "humidifier", "PRD-1005", "Fenwick Appliances Ltd.", "Hardware Fault", 0, 1, 1, "Ultrasonic humidifier, discontinued in 2025."},
		{"Beacon Video Doorbell 2", "doorbell", "PRD-2001", "Harbor Lane Home", "Connectivity", 1, 1, 0, "1080p video doorbell with two-way audio."},
		{"Beacon Indoor Camera", "indoor camera", "PRD-2002", "Harbor Lane Home", "Connectivity", 1, 1, 0, "Indoor pan-and-tilt camera."},
		{"Beacon Outdoor Camera XL", "outdoor camera", "PRD-2003", "Harbor Lane Home", "Connectivity", 1, 1, 0, "Weatherproof camera with floodlight."},
		{"Beacon Smart Lock", "smart lock", "PRD-2004", "Keystone Hardware Co.", "Installation", 1, 1, 0, "Deadbolt smart lock with keypad."},
		{"Beacon Alarm Hub", "alarm hub", "PRD-2005", "Harbor Lane Home", "Connectivity", 1, 1, 0, "Alarm base station with cellular backup."},
		{"Beacon Motion Sensor", "motion sensor", "PRD-2006", "Harbor Lane Home", "Hardware Fault", 1, 1, 0, "Pet-immune passive infrared sensor."},
		{"Cascade Leak Detector", "leak detector", "PRD-3001", "Harbor Lane Home", "Hardware Fault", 2, 1, 0, "Water leak and freeze sensor."},
		{"Cascade Smart Water Valve", "water valve", "PRD-3002", "Harbor Lane Home", "Installation", 2, 1, 0, "Motorised shut-off valve for the main supply."},
		{"Cascade Irrigation Controller 8-Zone", "irrigation controller", "PRD-3003", "Harbor Lane Home", "Installation", 2, 1, 2, "Weather-aware sprinkler controller, pre-release."},
		{"Professional Installation", "installation", "PRD-9001", "Harbor Lane Home", "Installation", -2, 3, 0, "On-site installation by a certified technician."},
		{"Extended Warranty 3 Years", "extended warranty", "PRD-9002", "Harbor Lane Home", "Returns & Warranty", -2, 3, 0, "Extends the hardware warranty to three years."},
		{"Premium Monitoring Subscription", "monitoring subscription", "PRD-9003", "Harbor Lane Home", "Billing", -2, 3, 0, "24/7 professional alarm monitoring, billed monthly."},
	}
	var out []record
	for i, s := range specs {
		id := recordID("product", i)
		p := product{ref: ref{id, s.name}, short: s.short, family: -1, active: s.state == 0, isDevice: s.family >= 0}
		if s.family >= 0 {
			p.family = s.family
		}
		g.products = append(g.products, p)
		r := record{}
		r.set("productid", id.String())
		r.set("name", s.name)
		r.set("productnumber", s.number)
		r.set("description", s.description)
		r.set("vendorname", s.vendor)
		r.set("producttypecode", s.kind)
		structure := 1
		if s.family == -1 {
			structure = 2
		}
		r.set("productstructure", structure)
		r.set("quantitydecimal", 0)
		r.set("validfromdate", "2024-01-01")
		if s.state == 1 {
			r.set("validtodate", "2025-06-30")
		}
		if s.family >= 0 {
			r.bind("parentproductid", "products", g.products[s.family].id)
		}
		r.bind("subjectid", "subjects", g.subjects[s.subject])
		r.set("statecode", s.state)
		r.set("statuscode", map[int]int{0: 1, 1: 2, 2: 0}[s.state])
		out = append(out, r)
	}
	return out
}

func (g *generator) slaRecords() []record {
	tiers := []struct {
		name, description      string
		firstResponse, resolve int
		isDefault              bool
	}{
		{"Standard Support SLA", "First response within 8 business hours, resolution within 3 business days.", 480, 1800, true},
		{"Premium Support SLA", "First response within 2 business hours, resolution within 1 business day.", 120, 600, false},
		{"Priority Care SLA", "First response within 1 business hour, resolution within 8 business hours.", 60, 480, false},
	}
	var out []record
	for i, t := range tiers {
		id := recordID("sla", i)
		g.slas = append(g.slas, slaTier{ref: ref{id, t.name}, firstResponse: t.firstResponse, resolve: t.resolve})
		r := record{}
		r.set("slaid", id.String())
		r.set("name", t.name)
		r.set("description", t.description)
		r.set("slatype", 1)
		r.set("primaryentityotc", 112)
		r.set("applicablefrom", "createdon")
		r.set("isdefault", t.isDefault)
		r.set("allowpauseresume", true)
		r.bind("businesshoursid", "calendars", g.businessHours)
		r.bind("ownerid", "systemusers", g.users[0].id)
		r.set("statecode", 1)
		r.set("statuscode", 2)
		out = append(out, r)
	}
	return out
}

func (g *generator) kpiRecords() []record {
	kpis := []struct{ name, field, description string }{
		{"First Response By KPI", "firstresponsebykpiid", "Time to the first reply to the customer."},
		{"Resolve By KPI", "resolvebykpiid", "Time to resolve the case."},
	}
	var out []record
	for i, k := range kpis {
		id := recordID("msdyn_slakpi", i)
		g.kpis[i] = id
		r := record{}
		r.set("msdyn_slakpiid", id.String())
		r.set("msdyn_name", k.name)
		r.set("msdyn_description", k.description)
		r.set("msdyn_entityname", "incident")
		r.set("msdyn_kpifield", k.field)
		r.set("msdyn_applicablefromfield", "createdon")
		r.bind("ownerid", "systemusers", g.users[0].id)
		out = append(out, r)
	}
	return out
}

func (g *generator) slaItemRecords() []record {
	var out []record
	n := 0
	for si := range g.slas {
		s := &g.slas[si]
		for k, kind := range []string{"First Response", "Resolve"} {
			id := recordID("slaitem", n)
			n++
			s.items[k] = id
			failure := s.firstResponse
			success := `<condition attribute="firstresponsesent" operator="eq" value="1" />`
			field := "firstresponsebykpiid"
			if k == 1 {
				failure = s.resolve
				success = `<condition attribute="statecode" operator="eq" value="1" />`
				field = "resolvebykpiid"
			}
			r := record{}
			r.set("slaitemid", id.String())
			r.set("name", kind+" - "+strings.TrimSuffix(s.name, " SLA"))
			r.set("description", kind+" target for "+s.name)
			r.set("applicableentity", "incident")
			r.set("relatedfield", field)
			r.set("failureafter", failure)
			r.set("warnafter", failure*3/4)
			r.set("sequencenumber", k+1)
			r.set("allowpauseresume", true)
			r.set("applicablewhenxml", `<filter type="and"><condition attribute="statecode" operator="eq" value="0" /></filter>`)
			r.set("successconditionsxml", `<filter type="and">`+success+`</filter>`)
			r.bind("slaid", "slas", s.id)
			r.bind("msdyn_slakpiid", "msdyn_slakpis", g.kpis[k])
			r.bind("ownerid", "systemusers", g.users[0].id)
			out = append(out, r)
		}
	}
	return out
}

func (g *generator) templateRecords() []record {
	templates := []struct {
		name, description        string
		allocation, decrease, kb int
		terms                    float64
		restrict                 bool
		sla                      int
	}{
		{"Standard Support - 20 cases", "Twenty cases a year, counted when resolved.", 0, 0, 0, 20, false, 0},
		{"Premium Support - 60 hours", "Sixty support hours a year with premium knowledge base access.", 1, 0, 1, 60, true, 1},
		{"Priority Care - 100 cases", "One hundred cases a year, counted on creation, priority handling.", 0, 1, 1, 100, true, 2},
	}
	var out []record
	for i, t := range templates {
		id := recordID("entitlementtemplate", i)
		g.templates = append(g.templates, ref{id, t.name})
		r := record{}
		r.set("entitlementtemplateid", id.String())
		r.set("name", t.name)
		r.set("description", t.description)
		r.set("allocationtypecode", t.allocation)
		r.set("decreaseremainingon", t.decrease)
		r.set("totalterms", t.terms)
		r.set("restrictcasecreation", t.restrict)
		r.set("kbaccesslevel", t.kb)
		r.bind("slaid", "slas", g.slas[t.sla].id)
		out = append(out, r)
	}
	return out
}

func (g *generator) accountRecords() []record {
	rng := stream("account")
	seen := map[string]bool{}
	var out []record
	for i := 0; len(out) < 60; i++ {
		kind := companyKinds[(i*7+i/len(companyPrefixes))%len(companyKinds)]
		name := companyPrefixes[i%len(companyPrefixes)] + " " + kind.suffix
		if seen[name] {
			continue
		}
		seen[name] = true
		n := len(out)
		id := recordID("account", n)
		pl := places[rng.IntN(len(places))]
		domain := slug(strings.ReplaceAll(name, "&", "and")) + ".example"
		g.accounts = append(g.accounts, account{ref: ref{id, name}, domain: domain, place: pl})
		r := record{}
		r.set("accountid", id.String())
		r.set("name", name)
		r.set("accountnumber", fmt.Sprintf("ACC-%05d", 10001+n))
		customerType := 3
		switch {
		case n%17 == 5:
			customerType = 5 // Partner
		case n%13 == 11:
			customerType = 8 // Prospect
		}
		r.set("customertypecode", customerType)
		category := 2
		if n%4 == 0 {
			category = 1
		}
		r.set("accountcategorycode", category)
		r.set("industrycode", kind.industry)
		r.set("emailaddress1", "support@"+domain)
		r.set("telephone1", fmt.Sprintf("%s%02d", pl.phonePrefix, rng.IntN(100)))
		r.set("websiteurl", "https://www."+domain)
		r.set("numberofemployees", []int{12, 25, 40, 85, 150, 320, 600, 1200, 4500}[rng.IntN(9)])
		r.set("address1_line1", fmt.Sprintf("%d %s Street", 10+rng.IntN(890), pick(rng, streets)))
		r.set("address1_city", pl.city)
		r.set("address1_stateorprovince", pl.state)
		r.set("address1_postalcode", pl.postal)
		r.set("address1_country", pl.country)
		r.set("preferredcontactmethodcode", []int{1, 2, 2, 3}[rng.IntN(4)])
		r.set("description", fmt.Sprintf("%s customer since %d; %s devices across %d sites.",
			kind.suffix, 2019+rng.IntN(6), []string{"climate", "security", "water", "mixed"}[rng.IntN(4)], 1+rng.IntN(12)))
		// A few subsidiaries roll up to a parent created earlier.
		if n >= 10 && n%11 == 3 {
			r.bind("parentaccountid", "accounts", g.accounts[n-10].id)
		}
		g.owner(&r, rng, 0.1)
		r.set("overriddencreatedon", timestamp(workTime(rng, time.Date(2022, 1, 10, 0, 0, 0, 0, time.UTC), rng.IntN(900))))
		if n%15 == 14 {
			r.set("statecode", 1)
			r.set("statuscode", 2)
		}
		out = append(out, r)
	}
	return out
}

func (g *generator) contactRecords() []record {
	rng := stream("contact")
	emails := map[string]bool{}
	var out []record
	for n := 0; n < 150; n++ {
		// Every account gets two contacts; the rest go to larger customers.
		acct := n % len(g.accounts)
		if n >= 2*len(g.accounts) {
			acct = rng.IntN(20)
		}
		a := &g.accounts[acct]
		first := firstNames[(n*7+rng.IntN(3))%len(firstNames)]
		last := lastNames[(n*11+rng.IntN(5))%len(lastNames)]
		local := strings.ToLower(first + "." + last)
		email := local + "@" + a.domain
		for k := 2; emails[email]; k++ {
			email = fmt.Sprintf("%s%d@%s", local, k, a.domain)
		}
		emails[email] = true
		id := recordID("contact", n)
		g.contacts = append(g.contacts, contact{ref: ref{id, first + " " + last}, account: acct})
		a.contacts = append(a.contacts, n)
		r := record{}
		r.set("contactid", id.String())
		r.set("firstname", first)
		r.set("lastname", last)
		r.set("jobtitle", pick(rng, contactTitles))
		r.set("emailaddress1", email)
		r.set("telephone1", fmt.Sprintf("%s%02d", a.place.phonePrefix, rng.IntN(100)))
		if chance(rng, 0.6) {
			r.set("mobilephone", fmt.Sprintf("%s%02d", a.place.phonePrefix, rng.IntN(100)))
		}
		r.set("address1_city", a.place.city)
		r.set("address1_stateorprovince", a.place.state)
		r.set("address1_postalcode", a.place.postal)
		r.set("address1_country", a.place.country)
		r.set("preferredcontactmethodcode", []int{1, 2, 2, 3}[rng.IntN(4)])
		r.bind("parentcustomerid_account", "accounts", a.id)
		g.owner(&r, rng, 0.1)
		r.set("overriddencreatedon", timestamp(workTime(rng, time.Date(2022, 6, 1, 0, 0, 0, 0, time.UTC), rng.IntN(800))))
		if n%25 == 24 {
			r.set("statecode", 1)
			r.set("statuscode", 2)
		}
		out = append(out, r)
	}
	return out
}

func (g *generator) entitlementRecords() []record {
	rng := stream("entitlement")
	type plan struct {
		template    int
		label       string
		total       float64
		state       int
		start, end  time.Time
		remainShare float64
	}
	year := func(y int) (time.Time, time.Time) {
		return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(y, 12, 31, 0, 0, 0, 0, time.UTC)
	}
	names := map[string]bool{}
	hasDefault := map[string]bool{}
	var out []record
	for n := 0; n < 40; n++ {
		t := []int{0, 0, 0, 1, 1, 2}[rng.IntN(6)]
		p := plan{template: t, state: 1, remainShare: 0.2 + 0.7*rng.Float64()}
		p.start, p.end = year(2025)
		switch {
		case n%10 == 7: // last year's contract, expired
			p.state = 3
			p.start, p.end = year(2024)
			p.remainShare = 0
		case n%13 == 4: // being prepared
			p.state = 0
			p.start, p.end = year(2026)
			p.remainShare = 1
		case n == 22 || n == 35:
			p.state = 2
		case n == 31: // signed, starts in the future
			p.state = 4
			p.start, p.end = time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
			p.remainShare = 1
		}
		switch n {
		case 3, 14: // nearly used up: one case (or hour) left
			p.remainShare = -1
		case 5: // expiring at the end of the data set's month
			p.end = time.Date(2025, 11, 30, 0, 0, 0, 0, time.UTC)
		}
		p.label = []string{"Standard Support", "Premium Support", "Priority Care"}[t]
		p.total = []float64{20, 60, 100}[t]
		// 35 entitlements for accounts, 5 for individual contacts.
		isAccount := n < 35
		var customer int
		var customerName string
		if isAccount {
			customer = (n * 3) % len(g.accounts)
			customerName = g.accounts[customer].name
		} else {
			customer = (7 + n*11) % len(g.contacts)
			customerName = g.contacts[customer].name
		}
		id := recordID("entitlement", n)
		name := fmt.Sprintf("%s - %s %d", customerName, p.label, p.start.Year())
		for k := 2; names[name]; k++ {
			name = fmt.Sprintf("%s - %s %d (%d)", customerName, p.label, p.start.Year(), k)
		}
		names[name] = true
		customerKey := fmt.Sprintf("%t/%d", isAccount, customer)
		isDefault := !hasDefault[customerKey] && p.state == 1
		if isDefault {
			hasDefault[customerKey] = true
		}
		sla := t
		g.entitlements = append(g.entitlements, entitlement{ref: ref{id, name}, active: p.state == 1, sla: sla, customerIsAc: isAccount, customer: customer})
		if p.state == 1 {
			if isAccount {
				g.entitlementsByAccount[customer] = append(g.entitlementsByAccount[customer], n)
			} else {
				g.entitlementsByContact[customer] = append(g.entitlementsByContact[customer], n)
			}
		}
		r := record{}
		r.set("entitlementid", id.String())
		r.set("name", name)
		r.set("description", fmt.Sprintf("%s plan for %d.", p.label, p.start.Year()))
		r.set("startdate", timestamp(p.start))
		r.set("enddate", timestamp(p.end))
		if isAccount {
			r.bind("customerid_account", "accounts", g.accounts[customer].id)
		} else {
			r.bind("customerid_contact", "contacts", g.contacts[customer].id)
		}
		r.bind("entitlementtemplateid", "entitlementtemplates", g.templates[t].id)
		r.bind("slaid", "slas", g.slas[sla].id)
		r.set("allocationtypecode", []int{0, 1, 0}[t])
		r.set("decreaseremainingon", []int{0, 0, 1}[t])
		r.set("totalterms", p.total)
		if p.remainShare < 0 {
			r.set("remainingterms", 1.0)
		} else {
			r.set("remainingterms", float64(int(p.total*p.remainShare*100))/100)
		}
		r.set("restrictcasecreation", t > 0)
		r.set("kbaccesslevel", []int{0, 1, 1}[t])
		r.set("isdefault", isDefault)
		r.set("entitytype", 0)
		r.set("statecode", p.state)
		r.set("statuscode", map[int]int{0: 0, 1: 1, 2: 2, 3: 3, 4: 1200}[p.state])
		g.owner(&r, rng, 0.2)
		r.set("overriddencreatedon", timestamp(workTime(rng, p.start.AddDate(0, -1, 0), rng.IntN(20))))
		out = append(out, r)
	}
	return out
}

func (g *generator) channelRecords() []record {
	rng := stream("entitlementchannel")
	var out []record
	n := 0
	for ei, e := range g.entitlements {
		channels := []struct {
			code  int
			label string
			share float64
		}{{1, "Phone", 0.5}, {2, "Email", 0.3}, {3, "Web", 0.2}}
		if ei%3 == 0 {
			channels = channels[:2]
		}
		total := []float64{20, 60, 100}[e.sla]
		for _, c := range channels {
			id := recordID("entitlementchannel", n)
			n++
			terms := float64(int(total*c.share*100)) / 100
			r := record{}
			r.set("entitlementchannelid", id.String())
			r.set("name", c.label)
			r.set("channel", c.code)
			r.set("totalterms", terms)
			r.set("remainingterms", float64(int(terms*rng.Float64()*100))/100)
			r.bind("entitlementid", "entitlements", e.id)
			out = append(out, r)
		}
	}
	return out
}

// ---- cases ---------------------------------------------------------------------

type caseTemplate struct {
	title    string // %s is the product's short name
	caseType int    // 1 Question, 2 Problem, 3 Request
	subject  string
	detail   string
}

var caseTemplates = []caseTemplate{
	{"%s not connecting to Wi-Fi", 2, "Connectivity", "The %s drops off the 2.4 GHz network after a few minutes and the app shows it offline."},
	{"%s shows offline in the app", 2, "Connectivity", "Customer reports the %s has been offline since the router was replaced."},
	{"Firmware update failed on %s", 2, "Hardware Fault", "The update stopped at 60%% and the %s now blinks amber."},
	{"%s battery drains within a week", 2, "Hardware Fault", "Batteries in the %s last about a week instead of the expected six months."},
	{"How do I reset my %s?", 1, "How-to", "Customer wants to hand the %s over to a new tenant and asks how to reset it."},
	{"Request installation visit for %s", 3, "Installation", "Customer would like a technician to install the %s next week."},
	{"%s arrived damaged", 3, "Returns & Warranty", "The %s box was crushed in transit and the front panel is cracked."},
	{"Warranty replacement for %s", 3, "Returns & Warranty", "The %s stopped working after eleven months; customer asks for a replacement."},
	{"%s reports wrong readings", 2, "Hardware Fault", "Readings from the %s differ by several degrees from a reference thermometer."},
	{"Cannot pair %s with the hub", 2, "Connectivity", "Pairing mode times out; the hub never discovers the %s."},
	{"%s makes a clicking noise", 2, "Hardware Fault", "The %s clicks every few seconds, louder at night."},
	{"Question about %s compatibility", 1, "How-to", "Customer asks whether the %s works with their existing wiring and voice assistant."},
}

// caseOrigins weighs incident_caseorigincode: mostly email, phone and web,
// a few social and IoT cases.
var caseOrigins = []int{
	1, 1, 1, 1, 1, 1, 1, 1, 1,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	3, 3, 3, 3, 3, 3, 3, 3,
	2483, 3986, 700610000,
}

var billingTemplates = []caseTemplate{
	{"Charged twice for monitoring subscription", 2, "Billing", "Two identical charges appear on the latest statement."},
	{"Update payment method", 3, "Billing", "Customer wants to move the subscription to a new company card."},
	{"Cannot sign in to the customer portal", 2, "Account Access", "Password reset emails do not arrive."},
	{"Add a second administrator to the account", 3, "Account Access", "The facilities team needs a second administrator login."},
}

var noteTexts = []string{
	"Called the customer back; they confirmed the device was power-cycled before the issue started.",
	"Walked the customer through a factory reset. Device came back online after re-pairing.",
	"Asked for photos of the damaged packaging for the carrier claim.",
	"Customer prefers to be contacted by email after 3 pm local time.",
	"Escalated to Tier 2: reproduced the disconnect on a lab unit with the same firmware.",
	"Replacement shipped; tracking number sent to the customer.",
	"Router uses WPA3-only mode; device supports WPA2. Suggested enabling transition mode.",
	"Credit note issued for the duplicate charge.",
}

func (g *generator) incidentCustomer(rng *rand.Rand) (acct, cont int) {
	if chance(rng, 0.2) {
		return -1, rng.IntN(len(g.contacts))
	}
	// Larger customers (the first twenty accounts) raise most cases.
	if chance(rng, 0.6) {
		acct = rng.IntN(20)
	} else {
		acct = rng.IntN(len(g.accounts))
	}
	a := g.accounts[acct]
	return acct, a.contacts[rng.IntN(len(a.contacts))]
}

// incident builds one case. n numbers the case within its table; bulk cases
// use their own table name so their identifiers never collide with the
// committed ones.
func (g *generator) incident(rng *rand.Rand, table string, n int, ticket string) (record, incidentRef) {
	id := recordID(table, n)
	acct, cont := g.incidentCustomer(rng)
	var tmpl caseTemplate
	var prod = -1
	if chance(rng, 0.15) {
		tmpl = pick(rng, billingTemplates)
		prod = 17 + rng.IntN(3) // services
	} else {
		tmpl = pick(rng, caseTemplates)
		for prod < 0 || !g.products[prod].isDevice {
			prod = rng.IntN(len(g.products))
		}
	}
	title := tmpl.title
	detail := tmpl.detail
	if strings.Contains(title, "%s") {
		title = fmt.Sprintf(title, g.products[prod].short)
		title = strings.ToUpper(title[:1]) + title[1:]
	}
	if strings.Contains(detail, "%s") {
		detail = fmt.Sprintf(detail, g.products[prod].short)
	}

	created := workTime(rng, time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC), rng.IntN(295))
	age := now.Sub(created)
	priority := []int{1, 2, 2, 2, 3, 3}[rng.IntN(6)]
	origin := caseOrigins[rng.IntN(len(caseOrigins))]

	// Older cases are more likely to be closed.
	state, status := 0, []int{1, 1, 1, 2, 3, 4}[rng.IntN(6)]
	switch p := rng.Float64(); {
	case age > 30*24*time.Hour && p < 0.72, age <= 30*24*time.Hour && p < 0.2:
		state, status = 1, []int{5, 5, 5, 1000}[rng.IntN(4)]
	case p > 0.94:
		state, status = 2, 6
	}

	var ent = -1
	if acct >= 0 {
		if list := g.entitlementsByAccount[acct]; len(list) > 0 {
			ent = list[rng.IntN(len(list))]
		}
	} else if list := g.entitlementsByContact[cont]; len(list) > 0 {
		ent = list[rng.IntN(len(list))]
	}
	sla := -1
	switch {
	case ent >= 0:
		sla = g.entitlements[ent].sla
	case acct >= 0 && chance(rng, 0.7):
		sla = 0 // the default Standard SLA applies to account cases
	}

	r := record{}
	r.set("incidentid", id.String())
	r.set("title", title)
	r.set("ticketnumber", ticket+ticketSuffix(rng))
	r.set("description", detail)
	if acct >= 0 {
		r.bind("customerid_account", "accounts", g.accounts[acct].id)
	} else {
		r.bind("customerid_contact", "contacts", g.contacts[cont].id)
	}
	r.bind("primarycontactid", "contacts", g.contacts[cont].id)
	r.set("caseorigincode", origin)
	r.set("casetypecode", tmpl.caseType)
	r.set("prioritycode", priority)
	r.bind("subjectid", "subjects", g.subjects[tmpl.subject])
	r.bind("productid", "products", g.products[prod].id)
	if g.products[prod].isDevice && chance(rng, 0.6) {
		r.set("productserialnumber", fmt.Sprintf("HL%02d-%06d", prod, rng.IntN(1000000)))
	}
	if ent >= 0 {
		r.bind("entitlementid", "entitlements", g.entitlements[ent].id)
	}
	if sla >= 0 {
		tier := g.slas[sla]
		r.bind("slaid", "slas", tier.id)
		responseBy := created.Add(time.Duration(tier.firstResponse) * time.Minute)
		resolveBy := created.Add(time.Duration(tier.resolve) * time.Minute)
		r.set("responseby", timestamp(responseBy))
		r.set("resolveby", timestamp(resolveBy))
		first, resolve := 1, 1 // In Progress
		if state == 1 || chance(rng, 0.5) {
			first = []int{3, 3, 3, 4}[rng.IntN(4)] // Succeeded / Noncompliant
		}
		if state == 1 {
			resolve = []int{3, 3, 3, 4}[rng.IntN(4)]
		} else if state == 0 && now.After(resolveBy) {
			resolve = 4
		} else if state == 0 && now.After(resolveBy.Add(-time.Duration(tier.resolve/4)*time.Minute)) {
			resolve = 2
		}
		if state != 2 {
			r.set("firstresponseslastatus", first)
			r.set("resolvebyslastatus", resolve)
		}
	}
	firstResponseSent := state == 1 || chance(rng, 0.6)
	r.set("firstresponsesent", firstResponseSent)
	r.set("customercontacted", firstResponseSent)
	if state == 0 && priority == 1 && chance(rng, 0.4) {
		r.set("isescalated", true)
		r.set("escalatedon", timestamp(created.Add(time.Duration(2+rng.IntN(48))*time.Hour)))
	}
	if state == 1 && chance(rng, 0.7) {
		r.set("customersatisfactioncode", []int{5, 5, 4, 4, 4, 3, 2, 1}[rng.IntN(8)])
	}
	if state == 0 && chance(rng, 0.3) {
		r.set("followupby", timestamp(workTime(rng, now, 1+rng.IntN(10))))
	}
	g.owner(&r, rng, 0.15)
	r.set("overriddencreatedon", timestamp(created))
	r.set("statecode", state)
	r.set("statuscode", status)
	return r, incidentRef{ref: ref{id, title}, customerAccount: acct, customerContact: cont, active: state == 0, created: created, sla: sla, state: state, status: status}
}

func (g *generator) incidentRecords() []record {
	rng := stream("incident")
	var out []record
	for n := 0; n < 400; n++ {
		r, inc := g.incident(rng, "incident", n, fmt.Sprintf("CAS-%05d-", 1001+n))
		// Every 40th case follows up an earlier case of the same customer,
		// and a handful of duplicates were merged into their original.
		if n >= 40 && n%40 == 13 {
			if parent, ok := g.earlierCaseOf(inc, n); ok {
				r.bind("parentcaseid", "incidents", g.incidents[parent].id)
			}
		}
		if n >= 50 && n%67 == 5 {
			if master, ok := g.earlierCaseOf(inc, n); ok {
				r = replaceState(r, 2, 2000)
				r.bind("masterid", "incidents", g.incidents[master].id)
				inc.active, inc.state, inc.status = false, 2, 2000
			}
		}
		g.incidents = append(g.incidents, inc)
		out = append(out, r)
	}
	return out
}

// earlierCaseOf finds an earlier case of the same customer.
func (g *generator) earlierCaseOf(inc incidentRef, n int) (int, bool) {
	for i := n - 1; i >= 0; i-- {
		e := g.incidents[i]
		if e.customerAccount == inc.customerAccount && (inc.customerAccount >= 0 || e.customerContact == inc.customerContact) {
			return i, true
		}
	}
	return 0, false
}

func replaceState(r record, state, status int) record {
	out := r[:0:0]
	for _, f := range r {
		switch f.key {
		case "statecode":
			f.value = state
		case "statuscode":
			f.value = status
		case "firstresponseslastatus", "resolvebyslastatus", "customersatisfactioncode", "isescalated", "escalatedon", "followupby":
			continue
		}
		out = append(out, f)
	}
	return out
}

// writeBulkIncidents streams n extra cases as one JSON array, for
// benchmarks that need a large table. They bind to the committed seed
// records, so the base files must be loaded first.
func (g *generator) writeBulkIncidents(w io.Writer, n int) error {
	rng := stream("incident-bulk")
	var buf bytes.Buffer
	if _, err := io.WriteString(w, "[\n"); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		buf.Reset()
		r, _ := g.incident(rng, "incident-bulk", i, fmt.Sprintf("CAS-B%07d-", i+1))
		r.appendJSON(&buf)
		if i < n-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, "]\n")
	return err
}

func (g *generator) kpiInstanceRecords() []record {
	rng := stream("slakpiinstance")
	var out []record
	n := 0
	for _, inc := range g.incidents {
		if inc.sla < 0 {
			continue
		}
		tier := g.slas[inc.sla]
		for k, label := range []string{"First Response By KPI", "Resolve By KPI"} {
			minutes := tier.firstResponse
			if k == 1 {
				minutes = tier.resolve
			}
			failure := inc.created.Add(time.Duration(minutes) * time.Minute)
			warning := inc.created.Add(time.Duration(minutes*3/4) * time.Minute)
			status := 0 // In Progress
			var succeeded time.Time
			switch {
			case inc.state == 2:
				status = 5 // Canceled
			case inc.state == 1 || (k == 0 && chance(rng, 0.6)):
				if chance(rng, 0.85) {
					status = 4 // Succeeded
					succeeded = inc.created.Add(time.Duration(rng.IntN(minutes)) * time.Minute)
				} else {
					status = 1 // Noncompliant
				}
			case now.After(failure):
				status = 1
			case now.After(warning):
				status = 2
			}
			id := recordID("slakpiinstance", n)
			n++
			r := record{}
			r.set("slakpiinstanceid", id.String())
			r.set("name", label)
			r.set("status", status)
			r.set("failuretime", timestamp(failure))
			r.set("warningtime", timestamp(warning))
			r.set("computedfailuretime", timestamp(failure))
			r.set("computedwarningtime", timestamp(warning))
			if !succeeded.IsZero() {
				r.set("succeededon", timestamp(succeeded))
			}
			r.set("warningtimereached", map[bool]int{false: 0, true: 1}[now.After(warning) && status != 4])
			r.bind("regarding_incident", "incidents", inc.id)
			r.bind("msdyn_slaitemid", "slaitems", tier.items[k])
			r.bind("ownerid", "systemusers", g.users[pick(rng, g.agents)].id)
			out = append(out, r)
		}
	}
	return out
}

// ---- knowledge -------------------------------------------------------------------

type articleSpec struct {
	title, description, keywords, body string
	product                            int
	subject                            string
	versions                           int               // published versions in English (1 or 2)
	extra                              string            // "", "draft", "approved", "scheduled", "expired", "discarded"
	translations                       map[string]string // language -> title
}

var articleSpecs = []articleSpec{
	{"Reset the Aurora Smart Thermostat to factory settings", "Erase schedules and Wi-Fi settings before moving out or handing over a thermostat.", "thermostat, reset, factory settings", "<p>Press and hold the dial for 10 seconds until the ring flashes white.</p><ol><li>Choose <b>Settings &gt; Reset</b>.</li><li>Confirm with the dial.</li><li>Remove the thermostat from the app.</li></ol>", 3, "How-to", 2, "", map[string]string{"de-DE": "Aurora Smart Thermostat auf Werkseinstellungen zurücksetzen", "fr-FR": "Réinitialiser le thermostat Aurora aux paramètres d'usine"}},
	{"Connect Beacon devices to a 5 GHz Wi-Fi network", "Beacon devices use 2.4 GHz; how to set up dual-band routers.", "beacon, wifi, 5 GHz, router", "<p>Beacon cameras and doorbells only join 2.4 GHz networks. Enable a separate 2.4 GHz SSID or band steering on your router.</p>", 8, "Connectivity", 2, "", map[string]string{"de-DE": "Beacon-Geräte mit einem 5-GHz-WLAN verbinden"}},
	{"Troubleshoot Beacon Video Doorbell offline status", "Steps when the doorbell shows offline in the app.", "doorbell, offline, power", "<p>Check the transformer voltage (16-24 V AC), then the Wi-Fi signal at the door.</p>", 8, "Connectivity", 1, "discarded", nil},
	{"Replace the battery in the Aurora Room Sensor", "Which battery to use and how to open the sensor.", "room sensor, battery, CR2477", "<p>Twist the back cover counter-clockwise and insert a CR2477 cell, positive side up.</p>", 5, "How-to", 1, "", nil},
	{"Update firmware on Beacon cameras", "Manual firmware update when automatic updates fail.", "firmware, camera, update", "<p>Open the camera in the app, choose <b>Device info &gt; Firmware</b> and tap <b>Update now</b>. Keep the camera powered for 10 minutes.</p>", 9, "Hardware Fault", 2, "", nil},
	{"Calibrate Cascade Leak Detector sensitivity", "Reduce false alarms on damp floors.", "leak detector, calibration, false alarm", "<p>Set sensitivity to <i>Low</i> in basements with condensation.</p>", 14, "How-to", 1, "draft", nil},
	{"Schedule a professional installation visit", "How to book, reschedule or cancel an installation appointment.", "installation, appointment, technician", "<p>Book a visit from the app or call support. Technicians arrive within the chosen four-hour window.</p>", 17, "Installation", 1, "", nil},
	{"Warranty coverage and how to file a claim", "What the two-year warranty covers and what to send with a claim.", "warranty, claim, replacement", "<p>Hardware faults are covered for two years from delivery. Attach the order number and a photo of the serial label.</p>", 18, "Returns & Warranty", 2, "", map[string]string{"fr-FR": "Garantie et déclaration de sinistre"}},
	{"Pair the Beacon Smart Lock with the Alarm Hub", "Add the lock to the hub so it arms and disarms with the system.", "smart lock, alarm hub, pairing", "<p>Put the hub in pairing mode, then press the lock's setup button for three seconds.</p>", 11, "Connectivity", 1, "approved", nil},
	{"Understand your Premium Monitoring invoice", "Line items, billing periods and prorated charges explained.", "invoice, monitoring, billing", "<p>Monitoring is billed monthly in advance; changes mid-month are prorated.</p>", 19, "Billing", 1, "", nil},
	{"Winterize the Cascade Irrigation Controller", "Prepare zones and valves for freezing temperatures.", "irrigation, winter, freeze", "<p>Turn off the water supply, run each zone for two minutes and enable <b>Winter mode</b>.</p>", 16, "How-to", 1, "scheduled", nil},
	{"Clean the Aurora Air Purifier filter", "How often to clean the pre-filter and replace the HEPA filter.", "air purifier, filter, maintenance", "<p>Vacuum the pre-filter monthly; replace the HEPA filter every 12 months.</p>", 6, "How-to", 1, "expired", nil},
}

func (g *generator) articleRecords() []record {
	rng := stream("knowledgearticle")
	var out []record
	n := 0
	next := func() uuid.UUID { id := recordID("knowledgearticle", n); n++; return id }
	base := func(s articleSpec, number string, id uuid.UUID, lang string, major, minor int) record {
		r := record{}
		r.set("knowledgearticleid", id.String())
		r.set("title", s.title)
		r.set("articlepublicnumber", number)
		r.set("majorversionnumber", major)
		r.set("minorversionnumber", minor)
		r.bind("languagelocaleid", "languagelocale", g.languages[lang])
		r.bind("subjectid", "subjects", g.subjects[s.subject])
		return r
	}
	for ai, s := range articleSpecs {
		number := fmt.Sprintf("KA-%05d", 1001+ai)
		author := g.users[pick(rng, []int{3, 4, 5, 6})].id
		created := workTime(rng, time.Date(2024, 9, 2, 0, 0, 0, 0, time.UTC), ai*20)

		// The root article groups every version and translation; it carries
		// no content of its own.
		rootID := next()
		root := base(s, number, rootID, "en-US", 1, 0)
		root.set("isrootarticle", true)
		root.set("islatestversion", false)
		root.bind("ownerid", "systemusers", author)
		root.set("overriddencreatedon", timestamp(created))
		out = append(out, root)

		// Older versions are archived; the newest English version is
		// published (or expired). When a revision is in progress it becomes
		// the latest version while the published one stays live.
		var previous, latest uuid.UUID
		revising := s.extra == "draft" || s.extra == "approved" || s.extra == "scheduled"
		for v := 1; v <= s.versions; v++ {
			id := next()
			newest := v == s.versions
			r := base(s, number, id, "en-US", v, 0)
			r.set("description", s.description)
			r.set("keywords", s.keywords)
			body := s.body
			if v > 1 {
				body += fmt.Sprintf("<p><i>Updated for firmware %d.%d.</i></p>", 3+v, rng.IntN(10))
			}
			r.set("content", body)
			r.set("isrootarticle", false)
			r.set("islatestversion", newest && !revising)
			r.bind("rootarticleid", "knowledgearticles", rootID)
			if v > 1 {
				r.bind("previousarticlecontentid", "knowledgearticles", previous)
			}
			r.set("publishon", timestamp(created.AddDate(0, 0, 7+90*(v-1))))
			r.bind("ownerid", "systemusers", author)
			r.set("overriddencreatedon", timestamp(created.AddDate(0, 0, 90*(v-1))))
			switch {
			case !newest:
				r.set("statecode", 5)
				r.set("statuscode", 12)
			case s.extra == "expired":
				r.set("expirationdate", timestamp(time.Date(2025, 9, 30, 0, 0, 0, 0, time.UTC)))
				r.set("statecode", 4)
				r.set("statuscode", 10)
			default:
				r.set("statecode", 3)
				r.set("statuscode", 7)
			}
			out = append(out, r)
			previous, latest = id, id
		}

		if revising {
			id := next()
			minor := 1
			r := base(s, number, id, "en-US", s.versions, minor)
			r.set("description", s.description)
			r.set("keywords", s.keywords)
			r.set("content", s.body+"<p>Revised steps for the 2025 hardware revision.</p>")
			r.set("isrootarticle", false)
			r.set("islatestversion", true)
			r.bind("rootarticleid", "knowledgearticles", rootID)
			r.bind("previousarticlecontentid", "knowledgearticles", previous)
			r.bind("ownerid", "systemusers", author)
			r.set("overriddencreatedon", timestamp(workTime(rng, time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC), rng.IntN(40))))
			switch s.extra {
			case "draft":
				r.set("statecode", 0)
				r.set("statuscode", 2)
			case "approved":
				r.set("statecode", 1)
				r.set("statuscode", 5)
			case "scheduled":
				r.set("publishon", timestamp(time.Date(2025, 11, 15, 9, 0, 0, 0, time.UTC)))
				r.set("statecode", 2)
				r.set("statuscode", 6)
			}
			out = append(out, r)
		}

		if s.extra == "discarded" {
			// A revision that was abandoned: Discarded (state 6, status 13),
			// while the published version stays the latest. Its id comes
			// from its own sequence so that no other article's id moves.
			r := base(s, number, recordID("knowledgearticle-discarded", ai), "en-US", s.versions, 1)
			r.set("description", s.description)
			r.set("content", s.body+"<p>Draft steps for a wiring kit that was never shipped.</p>")
			r.set("isrootarticle", false)
			r.set("islatestversion", false)
			r.bind("rootarticleid", "knowledgearticles", rootID)
			r.bind("previousarticlecontentid", "knowledgearticles", previous)
			r.bind("ownerid", "systemusers", author)
			r.set("overriddencreatedon", timestamp(time.Date(2025, 10, 6, 10, 0, 0, 0, time.UTC)))
			r.set("statecode", 6)
			r.set("statuscode", 13)
			out = append(out, r)
		}

		for _, lang := range []string{"de-DE", "fr-FR"} {
			title, ok := s.translations[lang]
			if !ok {
				continue
			}
			id := next()
			t := s
			t.title = title
			r := base(t, number, id, lang, s.versions, 0)
			r.set("content", s.body)
			r.set("isrootarticle", false)
			r.set("islatestversion", true)
			r.bind("rootarticleid", "knowledgearticles", rootID)
			r.bind("parentarticlecontentid", "knowledgearticles", latest)
			r.bind("ownerid", "systemusers", author)
			r.set("publishon", timestamp(created.AddDate(0, 0, 30+90*(s.versions-1))))
			r.set("overriddencreatedon", timestamp(created.AddDate(0, 0, 20+90*(s.versions-1))))
			r.set("statecode", 3)
			r.set("statuscode", 7)
			out = append(out, r)
		}
		g.articles = append(g.articles, ref{latest, s.title})
	}
	return out
}

// ---- notes and queue items ------------------------------------------------------

func (g *generator) noteRecords() []record {
	rng := stream("annotation")
	var out []record
	n := 0
	for i := 3; i < len(g.incidents) && n < 46; i += 8 {
		inc := g.incidents[i]
		id := recordID("annotation", n)
		n++
		r := record{}
		r.set("annotationid", id.String())
		r.set("subject", []string{"Call summary", "Troubleshooting", "Customer update", "Internal note"}[rng.IntN(4)])
		r.set("notetext", pick(rng, noteTexts))
		if n%8 == 0 {
			log := fmt.Sprintf("device=%s\nfirmware=4.%d.%d\nwifi_rssi=-%d\nlast_seen=%s\n",
				strings.ToUpper(ticketSuffix(rng)), rng.IntN(10), rng.IntN(20), 50+rng.IntN(40), timestamp(inc.created))
			r.set("isdocument", true)
			r.set("filename", "diagnostics.txt")
			r.set("mimetype", "text/plain")
			r.set("documentbody", base64.StdEncoding.EncodeToString([]byte(log)))
		}
		r.bind("objectid_incident", "incidents", inc.id)
		r.bind("ownerid", "systemusers", g.users[pick(rng, g.agents)].id)
		r.set("overriddencreatedon", timestamp(inc.created.Add(time.Duration(1+rng.IntN(72))*time.Hour)))
		out = append(out, r)
	}
	for i := 0; i < 4; i++ {
		a := g.accounts[i*5]
		id := recordID("annotation", n)
		n++
		r := record{}
		r.set("annotationid", id.String())
		r.set("subject", "Renewal discussion")
		r.set("notetext", "Customer asked for a quote to move all sites to Priority Care at renewal.")
		r.bind("objectid_account", "accounts", a.id)
		r.bind("ownerid", "systemusers", g.users[0].id)
		r.set("overriddencreatedon", timestamp(workTime(rng, time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC), rng.IntN(60))))
		out = append(out, r)
	}
	return out
}

func (g *generator) queueItemRecords() []record {
	rng := stream("queueitem")
	var out []record
	n := 0
	for _, inc := range g.incidents {
		if !inc.active || n >= 60 {
			continue
		}
		queue := 0
		switch {
		case inc.sla >= 1:
			queue = 3
		case strings.Contains(inc.name, "charge") || strings.Contains(inc.name, "payment") || strings.Contains(inc.name, "arrived damaged") || strings.Contains(inc.name, "Warranty"):
			queue = 2
		case rng.IntN(3) == 0:
			queue = 1
		}
		id := recordID("queueitem", n)
		n++
		r := record{}
		r.set("queueitemid", id.String())
		r.set("title", inc.name)
		r.bind("objectid_incident", "incidents", inc.id)
		r.bind("queueid", "queues", g.queues[queue].id)
		if chance(rng, 0.5) {
			r.bind("workerid_systemuser", "systemusers", g.users[pick(rng, g.agents)].id)
		}
		r.set("overriddencreatedon", timestamp(inc.created.Add(time.Duration(5+rng.IntN(55))*time.Minute)))
		out = append(out, r)
	}
	// Articles due for their periodic review sit in the private review queue.
	for _, a := range g.articles[:3] {
		id := recordID("queueitem", n)
		n++
		r := record{}
		r.set("queueitemid", id.String())
		r.set("title", a.name)
		r.bind("objectid_knowledgearticle", "knowledgearticles", a.id)
		r.bind("queueid", "queues", g.queues[4].id)
		out = append(out, r)
	}
	return out
}

var resolutionTexts = []string{
	"Guided the customer through re-pairing; device reports normally.",
	"Replacement unit shipped and confirmed working.",
	"Router setting changed to WPA2/WPA3 transition mode; device stays online.",
	"Firmware reinstalled over USB; update completed.",
	"Explained the configuration steps; customer confirmed.",
	"Refund of the duplicate charge processed.",
	"Technician visit completed; installation verified.",
}

// resolutionRecords writes the Case Resolution activity CloseIncident
// records for every resolved case.
func (g *generator) resolutionRecords() []record {
	rng := stream("incidentresolution")
	var out []record
	n := 0
	for _, inc := range g.incidents {
		if inc.state != 1 {
			continue
		}
		resolved := inc.created.Add(time.Duration(1+rng.IntN(240)) * time.Hour)
		if resolved.After(now) {
			resolved = now.Add(-time.Hour)
		}
		id := recordID("incidentresolution", n)
		n++
		subject := "Problem Solved"
		if inc.status == 1000 {
			subject = "Information Provided"
		}
		r := record{}
		r.set("activityid", id.String())
		r.set("subject", subject)
		r.set("description", pick(rng, resolutionTexts))
		r.set("timespent", 5+rng.IntN(236))
		r.set("actualend", timestamp(resolved))
		r.bind("incidentid", "incidents", inc.id)
		r.bind("ownerid", "systemusers", g.users[pick(rng, g.agents)].id)
		r.set("statecode", 1)
		r.set("statuscode", 2)
		out = append(out, r)
	}
	return out
}
