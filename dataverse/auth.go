package dataverse

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// TokenSource is the credential the client authenticates with. Every
// azidentity credential satisfies it.
type TokenSource = azcore.TokenCredential

// CredentialKind selects how NewCredential authenticates.
type CredentialKind string

const (
	// CredentialDefault is azidentity.DefaultAzureCredential: environment
	// (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET or
	// AZURE_CLIENT_CERTIFICATE_PATH), workload identity, managed identity,
	// Azure CLI, in that order.
	CredentialDefault          CredentialKind = "default"
	CredentialClientSecret     CredentialKind = "client-secret"
	CredentialCertificate      CredentialKind = "certificate"
	CredentialManagedIdentity  CredentialKind = "managed-identity"
	CredentialWorkloadIdentity CredentialKind = "workload-identity"
	CredentialAzureCLI         CredentialKind = "azure-cli"
	CredentialDeviceCode       CredentialKind = "device-code"
	// CredentialStaticToken sends a fixed bearer token; meant for the
	// reference server (DVSYNC_TOKEN).
	CredentialStaticToken CredentialKind = "token"
)

// CredentialOptions configure NewCredential. Secrets belong in the
// environment or in files, never on a command line.
type CredentialOptions struct {
	Kind     CredentialKind
	TenantID string
	ClientID string
	// ClientSecret for CredentialClientSecret.
	ClientSecret string
	// CertificatePath is a PEM or PKCS#12 file holding the certificate and
	// private key for CredentialCertificate; CertificatePassword unlocks it.
	CertificatePath     string
	CertificatePassword string
	// ManagedIdentityID selects a user-assigned identity by client ID.
	ManagedIdentityID string
	// DeviceCodePrompt shows the device-code instructions to the user;
	// defaults to printing on stderr.
	DeviceCodePrompt func(message string)
	// Token is the bearer token of CredentialStaticToken.
	Token string
}

// NewCredential builds the credential described by o.
func NewCredential(o CredentialOptions) (TokenSource, error) {
	switch o.Kind {
	case "", CredentialDefault:
		return azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{TenantID: o.TenantID})
	case CredentialClientSecret:
		if o.TenantID == "" || o.ClientID == "" || o.ClientSecret == "" {
			return nil, errors.New("dataverse: client-secret credential needs a tenant ID, a client ID and a secret (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET)")
		}
		return azidentity.NewClientSecretCredential(o.TenantID, o.ClientID, o.ClientSecret, nil)
	case CredentialCertificate:
		if o.TenantID == "" || o.ClientID == "" || o.CertificatePath == "" {
			return nil, errors.New("dataverse: certificate credential needs a tenant ID, a client ID and a certificate file (AZURE_CLIENT_CERTIFICATE_PATH)")
		}
		data, err := os.ReadFile(o.CertificatePath)
		if err != nil {
			return nil, fmt.Errorf("dataverse: reading certificate: %w", err)
		}
		var pw []byte
		if o.CertificatePassword != "" {
			pw = []byte(o.CertificatePassword)
		}
		certs, key, err := azidentity.ParseCertificates(data, pw)
		if err != nil {
			// The parse error never contains the password.
			return nil, fmt.Errorf("dataverse: parsing certificate %s: %w", o.CertificatePath, err)
		}
		return azidentity.NewClientCertificateCredential(o.TenantID, o.ClientID, certs, key, nil)
	case CredentialManagedIdentity:
		var opts azidentity.ManagedIdentityCredentialOptions
		if o.ManagedIdentityID != "" {
			opts.ID = azidentity.ClientID(o.ManagedIdentityID)
		}
		return azidentity.NewManagedIdentityCredential(&opts)
	case CredentialWorkloadIdentity:
		return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{TenantID: o.TenantID, ClientID: o.ClientID})
	case CredentialAzureCLI:
		return azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: o.TenantID})
	case CredentialDeviceCode:
		prompt := o.DeviceCodePrompt
		if prompt == nil {
			prompt = func(m string) { fmt.Fprintln(os.Stderr, m) }
		}
		return azidentity.NewDeviceCodeCredential(&azidentity.DeviceCodeCredentialOptions{
			TenantID: o.TenantID,
			ClientID: o.ClientID,
			UserPrompt: func(_ context.Context, m azidentity.DeviceCodeMessage) error {
				prompt(m.Message)
				return nil
			},
		})
	case CredentialStaticToken:
		if o.Token == "" {
			return nil, errors.New("dataverse: static token credential needs a token (DVSYNC_TOKEN)")
		}
		return StaticToken(o.Token), nil
	}
	return nil, fmt.Errorf("dataverse: unknown credential kind %q (want default, client-secret, certificate, managed-identity, workload-identity, azure-cli, device-code or token)", o.Kind)
}

// StaticToken returns a credential that always presents token. It never
// expires; use it for the reference server, not for Entra ID tokens.
func StaticToken(token string) TokenSource { return staticToken{token: token} }

type staticToken struct{ token string }

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: s.token, ExpiresOn: time.Now().Add(24 * time.Hour)}, nil
}

// String and GoString keep the token out of %v / %#v formatting.
func (staticToken) String() string   { return "dataverse.StaticToken(REDACTED)" }
func (staticToken) GoString() string { return "dataverse.StaticToken(REDACTED)" }

// Scope returns the OAuth scope for an environment: "<scheme>://<host>/.default".
// Source: powerapps-docs developer/data-platform/authenticate-oauth.md.
func Scope(envURL string) (string, error) {
	u, err := url.Parse(envURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("dataverse: environment URL %q must be absolute, like https://org.crm.dynamics.com", envURL)
	}
	return u.Scheme + "://" + u.Host + "/.default", nil
}

// refreshMargin is how long before expiry a cached token is replaced, so a
// request never leaves with a token that expires in flight.
const refreshMargin = 5 * time.Minute

// tokenCache hands out one token to all requests and refreshes it before it
// expires. azidentity credentials also cache, but each GetToken call costs a
// lock and a map lookup in MSAL; this keeps the hot path to one mutex.
type tokenCache struct {
	cred  TokenSource
	scope string
	now   func() time.Time

	mu  sync.Mutex
	tok azcore.AccessToken
}

func (c *tokenCache) token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	fresh := c.tok.Token != "" && now.Before(c.tok.ExpiresOn.Add(-refreshMargin))
	if fresh && !c.tok.RefreshOn.IsZero() && !now.Before(c.tok.RefreshOn) {
		fresh = false
	}
	if fresh {
		return c.tok.Token, nil
	}
	tok, err := c.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{c.scope}})
	if err != nil {
		if c.tok.Token != "" && now.Before(c.tok.ExpiresOn) {
			// Keep using a still-valid token when an early refresh fails.
			return c.tok.Token, nil
		}
		return "", &AuthError{Err: err}
	}
	c.tok = tok
	return tok.Token, nil
}

// AuthError wraps a credential failure. azidentity errors describe the
// failing step without echoing secrets.
type AuthError struct{ Err error }

func (e *AuthError) Error() string { return "dataverse: getting an access token: " + e.Err.Error() }
func (e *AuthError) Unwrap() error { return e.Err }
