// Package mapping holds the pure translations between systems: input
// records in, output records plus diagnostics out, no I/O. Subpackages:
// workspace (Unified Service Desk → Copilot Service workspace).
package mapping
