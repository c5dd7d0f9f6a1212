package dataverse_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/dvsync/dvsync/dataverse"
)

// TestAuthErrorIsOneLine: a credential chain's failure (azidentity prints
// every step over a dozen lines) becomes one line naming what was tried
// and what to set (issue 11 item 7). The chain here is real azidentity:
// the Azure CLI and Azure Developer CLI steps, which fail without the
// network when the tools are missing or logged out.
func TestAuthErrorIsOneLine(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // neither az nor azd can be found
	cli, err := azidentity.NewAzureCLICredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	azd, err := azidentity.NewAzureDeveloperCLICredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := azidentity.NewChainedTokenCredential([]azcore.TokenCredential{cli, azd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, raw := chain.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://org.crm.dynamics.com/.default"}})
	if raw == nil || !strings.Contains(raw.Error(), "\n") {
		t.Fatalf("expected azidentity's multi-line chain error, got %v", raw)
	}
	e := &dataverse.AuthError{Err: raw, Scope: "https://org.crm.dynamics.com/.default"}
	msg := e.Error()
	t.Log(msg)
	if strings.Contains(msg, "\n") {
		t.Errorf("not one line:\n%s", msg)
	}
	for _, want := range []string{"https://org.crm.dynamics.com", "Azure CLI", "Azure Developer CLI", "AZURE_CLIENT_SECRET", "az login", "--auth"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	if !errors.Is(e, raw) {
		t.Error("the full azidentity error is not kept for Unwrap")
	}
}

// TestAuthErrorSingleCredential keeps the first line and the Entra ID code.
func TestAuthErrorSingleCredential(t *testing.T) {
	raw := errors.New("ClientSecretCredential: authentication failed. \n--------\nPOST https://login.microsoftonline.com/t/oauth2/v2.0/token\n--------\nRESPONSE 401\n{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid client secret provided.\"}")
	cred, err := dataverse.NewCredential(dataverse.CredentialOptions{Kind: dataverse.CredentialClientSecret, TenantID: "t", ClientID: "app-1", ClientSecret: "s3cr3t"})
	if err != nil {
		t.Fatal(err)
	}
	msg := (&dataverse.AuthError{Err: raw, Source: dataverse.CredentialSource(cred)}).Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "AADSTS7000215") || !strings.Contains(msg, "client secret of app app-1") || strings.Contains(msg, "s3cr3t") {
		t.Errorf("message: %s", msg)
	}
}

// TestLoopbackNeverTriesAzure: for the reference server the default chain
// (whose managed-identity step calls 169.254.169.254) is never built; the
// error says in one line what to set.
func TestLoopbackNeverTriesAzure(t *testing.T) {
	for _, env := range []string{"http://127.0.0.1:8080", "http://localhost:1/", "http://[::1]:9/api/data/v9.2/"} {
		for _, kind := range []dataverse.CredentialKind{"", dataverse.CredentialDefault, dataverse.CredentialManagedIdentity} {
			cred, err := dataverse.NewCredential(dataverse.CredentialOptions{Kind: kind, Environment: env})
			if err == nil || cred != nil {
				t.Fatalf("%s %q: built a credential", env, kind)
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "accepts any token") || !strings.Contains(msg, "DVSYNC_TOKEN") {
				t.Errorf("%s %q: %s", env, kind, msg)
			}
		}
	}
	// A real environment still gets the chain, and a loopback one a token.
	if _, err := dataverse.NewCredential(dataverse.CredentialOptions{Kind: dataverse.CredentialDefault, Environment: "https://org.crm.dynamics.com"}); err != nil {
		t.Errorf("real environment: %v", err)
	}
	cred, err := dataverse.NewCredential(dataverse.CredentialOptions{Kind: dataverse.CredentialStaticToken, Token: "x", Environment: "http://127.0.0.1:1"})
	if err != nil || dataverse.CredentialSource(cred) != "the token in $DVSYNC_TOKEN" {
		t.Errorf("static token on loopback: %v %q", err, dataverse.CredentialSource(cred))
	}
}

// TestClientTokenIsTheRequestsToken: Token hands out the bearer token the
// client's own requests carry.
func TestClientTokenIsTheRequestsToken(t *testing.T) {
	var sent string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"UserId":"00000000-0000-0000-0000-000000000001","BusinessUnitId":"00000000-0000-0000-0000-000000000002","OrganizationId":"00000000-0000-0000-0000-000000000003"}`)
	}))
	defer srv.Close()
	c, err := dataverse.NewClient(srv.URL, dataverse.StaticToken("tok-1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.WhoAmI(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := c.Token(context.Background())
	if err != nil || got != sent || got != "tok-1" {
		t.Errorf("Token %q (%v), requests sent %q", got, err, sent)
	}
}
