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

// InvokeAction calls the unbound action name with params as its JSON body
// (POST [Organization URI]/api/data/v9.2/<name>; use-web-api-actions.md) and
// decodes the response into out when out is non-nil and the action returns a
// body. Actions are not idempotent in general, so a request whose response
// was lost is not retried; a caller that can check the action's effect
// retries itself.
func (c *Client) InvokeAction(ctx context.Context, name string, params any, out any) error {
	if !actionName.MatchString(name) {
		return fmt.Errorf("dataverse: %q is not an action name", name)
	}
	body, err := jsonBody(params)
	if err != nil {
		return fmt.Errorf("dataverse: encoding %s parameters: %w", name, err)
	}
	_, err = c.doJSON(ctx, request{method: http.MethodPost, path: name, body: body}, out)
	return err
}
