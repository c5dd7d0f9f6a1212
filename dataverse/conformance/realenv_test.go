package conformance_test

import (
	"os"
	"testing"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/conformance"
)

// TestRealEnvironment runs the suite against a real Dataverse environment:
//
//	DVSYNC_TEST_ENV=https://<org>.crm.dynamics.com \
//	AZURE_TENANT_ID=… AZURE_CLIENT_ID=… AZURE_CLIENT_SECRET=… \
//	go test ./dataverse/conformance -run RealEnvironment
//
// Credentials come from azidentity.DefaultAzureCredential (environment,
// workload identity, managed identity, Azure CLI). The suite creates and
// then deletes accounts and cases whose names start with "dvsync-conf-".
func TestRealEnvironment(t *testing.T) {
	envURL := os.Getenv("DVSYNC_TEST_ENV")
	if envURL == "" {
		t.Skip("DVSYNC_TEST_ENV is not set; set it to https://<org>.crm.dynamics.com, with Azure credentials in AZURE_* (or an Azure CLI login), to run the conformance suite against a real environment")
	}
	cred, err := dataverse.NewCredential(dataverse.CredentialOptions{Kind: dataverse.CredentialDefault, TenantID: os.Getenv("AZURE_TENANT_ID")})
	if err != nil {
		t.Skipf("no Azure credentials for %s: %v", envURL, err)
	}
	conformance.Run(t, func(t *testing.T) *dataverse.Client {
		c, err := dataverse.NewClient(envURL, cred, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.WhoAmI(t.Context()); err != nil {
			t.Skipf("cannot reach %s with the available credentials: %v", envURL, err)
		}
		return c
	})
}
