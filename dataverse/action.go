package dataverse

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
)

// actionName is an unbound action's name: a simple identifier, optionally
// namespace-qualified (Microsoft.Dynamics.CRM.CloseIncident), so it can never
// change the request path.
var actionName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// ActionOptions configure InvokeAction. The zero value is a plain call.
type ActionOptions struct {
	// Idempotent declares that sending the action twice has the effect of
	// sending it once, or that the second send fails in a way the caller
	// recognises (CloseIncident on a case the lost first send closed
	// answers "already resolved"). The client then retries it after 5xx
	// answers and dropped connections, as it does upserts; without it only
	// throttled calls, which never ran, are re-sent.
	Idempotent bool
}

// InvokeAction calls the unbound action name with params as its JSON body
// (POST [Organization URI]/api/data/v9.2/<name>; use-web-api-actions.md) and
// decodes the response into out when out is non-nil and the action returns a
// body. o may be nil.
func (c *Client) InvokeAction(ctx context.Context, name string, params any, out any, o *ActionOptions) error {
	if !actionName.MatchString(name) {
		return fmt.Errorf("dataverse: %q is not an action name", name)
	}
	body, err := jsonBody(params)
	if err != nil {
		return fmt.Errorf("dataverse: encoding %s parameters: %w", name, err)
	}
	_, err = c.doJSON(ctx, request{method: http.MethodPost, path: name, body: body, retrySafe: o != nil && o.Idempotent}, out)
	return err
}
