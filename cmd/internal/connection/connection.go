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

	// source describes the credential Client built, and loopback whether
	// the environment is a reference server, for Explain.
	source   string
	loopback bool
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
	c.source, c.loopback = dataverse.CredentialSource(cred), dataverse.IsLoopback(env)
	return dataverse.NewClient(env, cred, opts)
}

// Explain adds to a 401 from the environment which token was refused, so
// the user knows which setting to fix; other errors pass through.
func (c *Dataverse) Explain(err error) error {
	var re *dataverse.ResponseError
	if err == nil || c.source == "" || !errors.As(err, &re) || re.StatusCode != http.StatusUnauthorized {
		return err
	}
	hint := "check that the identity is an application user with a security role in this environment"
	switch {
	case c.loopback:
		hint = "this reference server accepts only the token serve was given with --token-file or $DVSYNC_TOKEN"
	case dataverse.CredentialKind(strings.ToLower(c.Auth)) == dataverse.CredentialStaticToken || (c.Auth == "" && os.Getenv("DVSYNC_TOKEN") != ""):
		hint = "against a real environment it must be an Entra ID access token for it; unset DVSYNC_TOKEN to use Azure credentials"
	}
	return fmt.Errorf("%w (the server refused %s; %s)", err, c.source, hint)
}
