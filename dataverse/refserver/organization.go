package refserver

import (
	"fmt"
	"math"
	"net/http"
)

// organizations serves the environment's one organization row with the
// columns a sync job reads: expirechangetrackingindays ("Maximum number of
// days to keep change tracking deleted records"; the delta-token retention
// of use-change-tracking-synchronize-data-external-systems.md), derived from
// Options.ChangeRetention, rounded up to whole days as the column holds.
func (s *Server) organizations(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeError(w, methodNotAllowed(r.Method, "organizations"))
		return
	}
	days := int(math.Ceil(s.retention().Hours() / 24))
	body := fmt.Sprintf(`{"@odata.context":%q,"value":[{"organizationid":%q,"name":"dvsync reference","expirechangetrackingindays":%d}]}`,
		baseURL(r)+"$metadata#organizations(organizationid,name,expirechangetrackingindays)", s.orgID, days)
	writeJSONBytes(w, http.StatusOK, []byte(body))
}
