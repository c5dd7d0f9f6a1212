package refserver

import (
	"strings"
	"testing"

	"github.com/dvsync/dvsync/dataverse/schema"
)

// schemaWithExtraTable declares a custom table from JSON, as a user would
// with dvsync serve --tables FILE.
func schemaWithExtraTable(t *testing.T) *schema.Registry {
	t.Helper()
	reg := schema.Default()
	err := reg.LoadJSON(strings.NewReader(`{"tables":[{
		"logicalName":"dvs_widget","entitySetName":"dvs_widgets","primaryId":"dvs_widgetid","primaryName":"dvs_name",
		"columns":[
			{"logicalName":"dvs_widgetid","type":"Uniqueidentifier"},
			{"logicalName":"dvs_name","type":"String","maxLength":100,"required":"ApplicationRequired"},
			{"logicalName":"dvs_size","type":"Integer","minValue":1,"maxValue":5},
			{"logicalName":"versionnumber","type":"BigInt","readOnly":true}
		]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return reg
}
