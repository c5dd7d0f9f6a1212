package dataverse

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
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
	// Azure CLI, Azure Developer CLI, Azure PowerShell, in that order
	// (azidentity v1.15 default_azure_credential.go).
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
	// TokenFrom says where Token came from, for messages ("$DVSYNC_TOKEN"
	// when empty).
	TokenFrom string
	// Environment is the environment URL the credential is for. On a
	// loopback address (the reference server) only a static token makes
	// sense: the default chain is not built, because its managed-identity
	// step would call the cloud metadata address 169.254.169.254.
	Environment string
}

// IsLoopback reports whether envURL names this machine: the reference
// server, never a real environment.
func IsLoopback(envURL string) bool {
	u, err := url.Parse(envURL)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// NewCredential builds the credential described by o. The credential
// describes itself (CredentialSource) so that errors can say which token
// was used.
func NewCredential(o CredentialOptions) (TokenSource, error) {
	if o.Environment != "" && IsLoopback(o.Environment) && (o.Kind == "" || o.Kind == CredentialDefault || o.Kind == CredentialManagedIdentity) {
		return nil, fmt.Errorf("dataverse: %s is a local reference server, which takes no Azure credential: set DVSYNC_TOKEN to any value (it accepts any token unless serve pinned one with --token-file)", o.Environment)
	}
	cred, err := newCredential(o)
	if err != nil {
		return nil, err
	}
	return describedCredential{TokenSource: cred, source: describe(o)}, nil
}

// describedCredential is a credential that can say where its token comes
// from.
type describedCredential struct {
	TokenSource
	source string
}

func (d describedCredential) String() string   { return "dataverse credential (" + d.source + ")" }
func (d describedCredential) GoString() string { return d.String() }

// CredentialSource says where cred's tokens come from, for messages: "the
// token in $DVSYNC_TOKEN", "client secret of app <id> ($AZURE_CLIENT_SECRET)".
func CredentialSource(cred TokenSource) string {
	switch c := cred.(type) {
	case describedCredential:
		return c.source
	case staticToken:
		return "a static token"
	case nil:
		return "no credential"
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", cred), "*azidentity.")
}

func describe(o CredentialOptions) string {
	switch o.Kind {
	case "", CredentialDefault:
		return "DefaultAzureCredential (environment, workload identity, managed identity, Azure CLI, Azure Developer CLI, Azure PowerShell)"
	case CredentialClientSecret:
		return "client secret of app " + o.ClientID + " ($AZURE_CLIENT_SECRET)"
	case CredentialCertificate:
		return "certificate " + o.CertificatePath + " of app " + o.ClientID
	case CredentialManagedIdentity:
		if o.ManagedIdentityID != "" {
			return "managed identity " + o.ManagedIdentityID
		}
		return "the system-assigned managed identity"
	case CredentialWorkloadIdentity:
		return "workload identity ($AZURE_FEDERATED_TOKEN_FILE)"
	case CredentialAzureCLI:
		return "the Azure CLI login (az login)"
	case CredentialDeviceCode:
		return "a device-code sign-in"
	case CredentialStaticToken:
		from := o.TokenFrom
		if from == "" {
			from = "$DVSYNC_TOKEN"
		}
		return "the token in " + from
	}
	return string(o.Kind)
}

func newCredential(o CredentialOptions) (TokenSource, error) {
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
		return "", &AuthError{Err: err, Source: CredentialSource(c.cred), Scope: c.scope}
	}
	c.tok = tok
	return tok.Token, nil
}

// AuthError wraps a credential failure. Its message is one line: azidentity
// errors run to a dozen lines (a credential chain lists every step with
// its HTTP exchange), so the message keeps what was tried and what to set;
// the full text stays available through Unwrap. azidentity errors never
// echo secrets.
type AuthError struct {
	Err error
	// Source describes the credential (CredentialSource).
	Source string
	// Scope is the token scope asked for ("https://org.crm.dynamics.com/.default").
	Scope string
}

func (e *AuthError) Error() string {
	msg := e.Err.Error()
	if tried := chainSteps(msg); len(tried) > 0 {
		if code := aadstsCode.FindString(msg); code != "" {
			tried[len(tried)-1] += " (" + code + ")"
		}
		return fmt.Sprintf("dataverse: no Azure credential gave a token%s (tried %s): set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH), run 'az login', or pick one with --auth",
			e.forScope(), strings.Join(tried, ", "))
	}
	first, _, _ := strings.Cut(strings.TrimSpace(msg), "\n")
	first = strings.TrimSpace(first)
	if code := aadstsCode.FindString(msg); code != "" && !strings.Contains(first, code) {
		first += " (" + code + ")"
	}
	src := ""
	if e.Source != "" {
		src = " with " + e.Source
	}
	return fmt.Sprintf("dataverse: getting an access token%s%s: %s", e.forScope(), src, first)
}

func (e *AuthError) forScope() string {
	if e.Scope == "" {
		return ""
	}
	return " for " + strings.TrimSuffix(e.Scope, "/.default")
}

func (e *AuthError) Unwrap() error { return e.Err }

// aadstsCode finds the Entra ID error code (AADSTS7000215: invalid client
// secret, and so on), which is what a user searches for.
var aadstsCode = regexp.MustCompile(`AADSTS\d+`)

// chainSteps reads the credentials a chained credential tried from its
// message, which azidentity formats as "…failed to acquire a token.\n
// Attempted credentials:\n\tNameCredential: reason" with continuation
// lines indented by two tabs (chained_token_credential.go). Each step is
// named with its one-line reason when it is short.
func chainSteps(msg string) []string {
	_, rest, ok := strings.Cut(msg, "Attempted credentials:")
	if !ok {
		return nil
	}
	var out []string
	for _, line := range strings.Split(rest, "\n") {
		if !strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "\t\t") {
			continue
		}
		name, reason, _ := strings.Cut(strings.TrimSpace(line), ":")
		if n, ok := credentialNames[name]; ok {
			name = n
		}
		reason = strings.TrimSpace(reason)
		if reason != "" && len(reason) <= 80 && !strings.Contains(reason, "http") {
			name += " (" + reason + ")"
		}
		out = append(out, name)
	}
	return out
}

var credentialNames = map[string]string{
	"EnvironmentCredential":       "environment",
	"WorkloadIdentityCredential":  "workload identity",
	"ManagedIdentityCredential":   "managed identity",
	"AzureCLICredential":          "Azure CLI",
	"AzureDeveloperCLICredential": "Azure Developer CLI",
	"AzurePowerShellCredential":   "Azure PowerShell",
}
