// Package connection holds the flags every command that talks to Dataverse
// shares: which environment, and how to authenticate.
package connection

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/dvsync/dvsync/dataverse"
)

// Dataverse is the set of flags that name a Dataverse environment and say
// how to authenticate. Secrets are never flags: they come from the
// environment (AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PASSWORD,
// DVSYNC_TOKEN), so they never show in process lists or shell history.
type Dataverse struct {
	Env               string
	Auth              string
	TenantID          string
	ClientID          string
	CertificatePath   string
	ManagedIdentityID string
}

// AddFlags registers the connection flags.
func (c *Dataverse) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.Env, "env", "", "Dataverse environment URL, e.g. https://org.crm.dynamics.com (default $DVSYNC_ENV)")
	fs.StringVar(&c.Auth, "auth", "", "authentication: default, client-secret, certificate, managed-identity, workload-identity, azure-cli, device-code or token (default: token when $DVSYNC_TOKEN is set, otherwise default)")
	fs.StringVar(&c.TenantID, "tenant-id", "", "Entra ID tenant (default $AZURE_TENANT_ID)")
	fs.StringVar(&c.ClientID, "client-id", "", "application (client) ID (default $AZURE_CLIENT_ID); the secret is read from $AZURE_CLIENT_SECRET")
	fs.StringVar(&c.CertificatePath, "client-certificate", "", "PEM or PKCS#12 file for --auth certificate (default $AZURE_CLIENT_CERTIFICATE_PATH; password in $AZURE_CLIENT_CERTIFICATE_PASSWORD)")
	fs.StringVar(&c.ManagedIdentityID, "managed-identity-client-id", "", "client ID of a user-assigned managed identity")
}

func orEnv(v, name string) string {
	if v != "" {
		return v
	}
	return os.Getenv(name)
}

// Client builds a client from the flags and the environment.
func (c *Dataverse) Client(deviceCodePrompt func(string), opts *dataverse.ClientOptions) (*dataverse.Client, error) {
	env := orEnv(c.Env, "DVSYNC_ENV")
	if env == "" {
		return nil, errors.New("no environment: pass --env https://<org>.crm.dynamics.com or set DVSYNC_ENV")
	}
	kind := dataverse.CredentialKind(strings.ToLower(c.Auth))
	if kind == "" {
		kind = dataverse.CredentialDefault
		if os.Getenv("DVSYNC_TOKEN") != "" {
			kind = dataverse.CredentialStaticToken
		}
	}
	cred, err := dataverse.NewCredential(dataverse.CredentialOptions{
		Kind:                kind,
		TenantID:            orEnv(c.TenantID, "AZURE_TENANT_ID"),
		ClientID:            orEnv(c.ClientID, "AZURE_CLIENT_ID"),
		ClientSecret:        os.Getenv("AZURE_CLIENT_SECRET"),
		CertificatePath:     orEnv(c.CertificatePath, "AZURE_CLIENT_CERTIFICATE_PATH"),
		CertificatePassword: os.Getenv("AZURE_CLIENT_CERTIFICATE_PASSWORD"),
		ManagedIdentityID:   c.ManagedIdentityID,
		DeviceCodePrompt:    deviceCodePrompt,
		Token:               os.Getenv("DVSYNC_TOKEN"),
		TokenFrom:           "$DVSYNC_TOKEN",
		Environment:         env,
	})
	if err != nil {
		return nil, err
	}
	return dataverse.NewClient(env, cred, opts)
}

// Explain adds to err, when it holds a 401 from the environment, which
// token was refused and what to set instead, in the same line, so the user
// knows which setting to fix; other errors pass through. The client records
// the token's source in the error, so Explain needs nothing else: root
// applies it to every command's error, once.
func Explain(err error) error {
	var re *dataverse.ResponseError
	if err == nil || !errors.As(err, &re) || re.StatusCode != http.StatusUnauthorized || re.TokenSource == "" {
		return err
	}
	var done *unauthorizedError
	if errors.As(err, &done) {
		return err
	}
	hint := "check that the identity is an application user with a security role in this environment"
	switch {
	case dataverse.IsLoopback(re.Env):
		hint = "this reference server accepts only the token serve was given with --token-file or $DVSYNC_TOKEN"
	case strings.HasPrefix(re.TokenSource, "the token in "), re.TokenSource == "a static token":
		hint = "against a real environment it must be an Entra ID access token for it; unset DVSYNC_TOKEN to use Azure credentials"
	}
	return &unauthorizedError{err: err, msg: fmt.Sprintf("%v (the server refused %s; %s)", err, re.TokenSource, hint)}
}

// unauthorizedError is an explained 401: its message adds the explanation,
// and errors.As still finds the ResponseError inside.
type unauthorizedError struct {
	err error
	msg string
}

func (e *unauthorizedError) Error() string { return e.msg }
func (e *unauthorizedError) Unwrap() error { return e.err }

// Explain is the package's Explain, for commands that render an error
// themselves.
func (c *Dataverse) Explain(err error) error { return Explain(err) }
