package dataverse

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestUnauthorizedSaysWhichToken: a 401 carries the source of the token
// that was refused and the environment that refused it, so any caller can
// say which setting to fix; no other status names a token.
func TestUnauthorizedSaysWhichToken(t *testing.T) {
	status := http.StatusUnauthorized
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
	}))
	defer srv.Close()
	cred, err := NewCredential(CredentialOptions{Kind: CredentialStaticToken, Token: "secret-value", TokenFrom: "$DVSYNC_TOKEN"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(srv.URL, cred, &ClientOptions{MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.WhoAmI(context.Background())
	var re *ResponseError
	if !errors.As(err, &re) || re.StatusCode != 401 || re.TokenSource != "the token in $DVSYNC_TOKEN" || re.Env != srv.URL+"/api/data/v9.2/" {
		t.Fatalf("error %#v", err)
	}
	status = http.StatusForbidden
	_, _, err = c.WhoAmI(context.Background())
	if !errors.As(err, &re) || re.StatusCode != 403 || re.TokenSource != "" {
		t.Fatalf("403: %#v", err)
	}
}
