package odoodv

// CompareMap is the map file's compare section: how `dvsync compare`
// normalises Odoo tickets and Dataverse cases before it calls two values
// equal. It lives in the migration's map file so that one file says both
// how a ticket was migrated and how its case is recognised afterwards.
// mapping/canonical reads and checks it; default.yaml documents it.
type CompareMap struct {
	TimeZone             string   `yaml:"time_zone" json:"time_zone"`
	TimePrecision        string   `yaml:"time_precision" json:"time_precision"`
	Description          string   `yaml:"description" json:"description"`
	StripMigrationFooter bool     `yaml:"strip_migration_footer" json:"strip_migration_footer"`
	TrimSpace            bool     `yaml:"trim_space" json:"trim_space"`
	TruncatedPrefix      bool     `yaml:"truncated_prefix" json:"truncated_prefix"`
	CaseInsensitiveEmail bool     `yaml:"case_insensitive_email" json:"case_insensitive_email"`
	Choices              string   `yaml:"choices" json:"choices"`
	Fields               []string `yaml:"fields" json:"fields"`
}

// HTMLToText is the HTML → plain text conversion the migration applies to
// ticket descriptions, so a comparison can apply exactly the same one.
func HTMLToText(s string) string { return htmlToText(s) }
