package distribute

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/dvsync/dvsync/dataverse"
)

// AppUser is one Dataverse application user a distributed job writes as.
// Service protection limits are per user, so every user brings its own
// budget of concurrent requests (x-ms-dop-hint). An AppUser names where a
// worker finds the credential, never the credential itself: it travels in
// the job description (the River job's arguments, stored in PostgreSQL),
// which must hold no secret.
type AppUser struct {
	// Name identifies the user in the slots of every worker; two entries
	// with the same credential must not have different names, or they
	// would get two budgets.
	Name string `json:"name" yaml:"name"`
	// Auth is a credential kind as --auth takes it: token (a bearer token
	// from TokenEnv or TokenFile), client-secret, certificate,
	// managed-identity, workload-identity or default.
	Auth     string `json:"auth,omitempty" yaml:"auth"`
	TenantID string `json:"tenant_id,omitempty" yaml:"tenant_id"`
	ClientID string `json:"client_id,omitempty" yaml:"client_id"`
	// TokenEnv or TokenFile hold a bearer token (Auth token).
	TokenEnv  string `json:"token_env,omitempty" yaml:"token_env"`
	TokenFile string `json:"token_file,omitempty" yaml:"token_file"`
	// SecretEnv or SecretFile hold the client secret (Auth client-secret).
	SecretEnv  string `json:"secret_env,omitempty" yaml:"secret_env"`
	SecretFile string `json:"secret_file,omitempty" yaml:"secret_file"`
	// CertificateFile (Auth certificate) is a PEM or PKCS#12 file; its
	// password is in CertificatePasswordEnv.
	CertificateFile        string `json:"certificate_file,omitempty" yaml:"certificate_file"`
	CertificatePasswordEnv string `json:"certificate_password_env,omitempty" yaml:"certificate_password_env"`
	// ManagedIdentityID selects a user-assigned managed identity.
	ManagedIdentityID string `json:"managed_identity_client_id,omitempty" yaml:"managed_identity_client_id"`
}

// DefaultUser is the one application user of a job that lists none: each
// worker authenticates as its own environment says, as every other
// command does (DVSYNC_TOKEN, else the AZURE_* variables and
// DefaultAzureCredential).
var DefaultUser = AppUser{Name: "default"}

var userNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// LoadAppUsers reads an application users file (YAML):
//
//	users:
//	  - name: app1
//	    token_env: DVSYNC_TOKEN_APP1        # a bearer token in this variable
//	  - name: app2
//	    auth: client-secret
//	    tenant_id: 72f988bf-…
//	    client_id: 0b5b7f3a-…
//	    secret_file: /var/run/secrets/app2/client-secret
//	  - name: app3
//	    auth: certificate
//	    client_id: 4c1d…
//	    certificate_file: /var/run/secrets/app3/cert.pem
//	    certificate_password_env: APP3_CERT_PASSWORD
//
// Keys that would hold a secret inline (secret, token, password) are
// refused: a worker reads every secret from its own environment or files.
func LoadAppUsers(path string) ([]AppUser, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("application users file: %w", err)
	}
	return ParseAppUsers(path, data)
}

// ParseAppUsers validates the text of an application users file; path is
// used in messages.
func ParseAppUsers(path string, data []byte) ([]AppUser, error) {
	var doc struct {
		Users []map[string]any `yaml:"users"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %v (expected users: [{name: …, token_env: …}, …])", path, err)
	}
	if len(doc.Users) == 0 {
		return nil, fmt.Errorf("%s: no users listed (expected users: [{name: …, token_env: …}, …])", path)
	}
	var out []AppUser
	seen := map[string]bool{}
	for i, raw := range doc.Users {
		for k := range raw {
			switch strings.ToLower(k) {
			case "secret", "client_secret", "token", "password", "api_key", "key", "certificate_password":
				return nil, fmt.Errorf("%s: users[%d].%s: secrets never go in this file; name the variable or file that holds it (%s_env or %s_file)", path, i, k, strings.TrimPrefix(k, "client_"), strings.TrimPrefix(k, "client_"))
			}
		}
		b, _ := yaml.Marshal(raw)
		var u AppUser
		d := yaml.NewDecoder(bytes.NewReader(b))
		d.KnownFields(true)
		if err := d.Decode(&u); err != nil {
			return nil, fmt.Errorf("%s: users[%d]: %v", path, i, err)
		}
		if err := u.validate(); err != nil {
			return nil, fmt.Errorf("%s: users[%d]: %w", path, i, err)
		}
		if seen[u.Name] {
			return nil, fmt.Errorf("%s: users[%d]: name %q is listed twice", path, i, u.Name)
		}
		seen[u.Name] = true
		out = append(out, u)
	}
	return out, nil
}

func (u AppUser) kind() dataverse.CredentialKind {
	if u.Auth != "" {
		return dataverse.CredentialKind(strings.ToLower(u.Auth))
	}
	if u.TokenEnv != "" || u.TokenFile != "" {
		return dataverse.CredentialStaticToken
	}
	if u.SecretEnv != "" || u.SecretFile != "" {
		return dataverse.CredentialClientSecret
	}
	if u.CertificateFile != "" {
		return dataverse.CredentialCertificate
	}
	return ""
}

func (u AppUser) validate() error {
	if !userNameRE.MatchString(u.Name) {
		return fmt.Errorf("name %q: want letters, digits, '.', '_' or '-'", u.Name)
	}
	switch u.kind() {
	case dataverse.CredentialStaticToken:
		if (u.TokenEnv == "") == (u.TokenFile == "") {
			return errors.New("auth token needs exactly one of token_env or token_file")
		}
	case dataverse.CredentialClientSecret:
		if (u.SecretEnv == "") == (u.SecretFile == "") || u.ClientID == "" {
			return errors.New("auth client-secret needs client_id and exactly one of secret_env or secret_file")
		}
	case dataverse.CredentialCertificate:
		if u.CertificateFile == "" || u.ClientID == "" {
			return errors.New("auth certificate needs client_id and certificate_file")
		}
	case dataverse.CredentialManagedIdentity, dataverse.CredentialWorkloadIdentity, dataverse.CredentialDefault:
	default:
		return fmt.Errorf("auth %q: want token, client-secret, certificate, managed-identity, workload-identity or default", u.Auth)
	}
	return nil
}

// Credential builds the user's credential for env from the worker's own
// environment and files.
func (u AppUser) Credential(env string) (dataverse.TokenSource, error) {
	if u.Name == DefaultUser.Name && u.kind() == "" {
		kind := dataverse.CredentialDefault
		if os.Getenv("DVSYNC_TOKEN") != "" {
			kind = dataverse.CredentialStaticToken
		}
		return dataverse.NewCredential(dataverse.CredentialOptions{Kind: kind, Environment: env,
			TenantID: os.Getenv("AZURE_TENANT_ID"), ClientID: os.Getenv("AZURE_CLIENT_ID"),
			ClientSecret: os.Getenv("AZURE_CLIENT_SECRET"), CertificatePath: os.Getenv("AZURE_CLIENT_CERTIFICATE_PATH"),
			CertificatePassword: os.Getenv("AZURE_CLIENT_CERTIFICATE_PASSWORD"),
			Token:               os.Getenv("DVSYNC_TOKEN"), TokenFrom: "$DVSYNC_TOKEN"})
	}
	o := dataverse.CredentialOptions{Kind: u.kind(), Environment: env, TenantID: u.TenantID, ClientID: u.ClientID,
		CertificatePath: u.CertificateFile, ManagedIdentityID: u.ManagedIdentityID}
	var err error
	switch o.Kind {
	case dataverse.CredentialStaticToken:
		o.Token, o.TokenFrom, err = secret(u.TokenEnv, u.TokenFile)
	case dataverse.CredentialClientSecret:
		o.ClientSecret, _, err = secret(u.SecretEnv, u.SecretFile)
	case dataverse.CredentialCertificate:
		if u.CertificatePasswordEnv != "" {
			o.CertificatePassword = os.Getenv(u.CertificatePasswordEnv)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("application user %s: %w", u.Name, err)
	}
	return dataverse.NewCredential(o)
}

// secret reads a secret from the variable or file named, and says where
// it came from (never what it is).
func secret(env, file string) (value, from string, err error) {
	if env != "" {
		v := os.Getenv(env)
		if v == "" {
			return "", "", fmt.Errorf("$%s is empty on this worker: set it (from a Kubernetes Secret, say)", env)
		}
		return v, "$" + env, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", "", fmt.Errorf("reading the secret file: %w", err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", "", fmt.Errorf("secret file %s is empty", file)
	}
	return v, file, nil
}
