//go:build race

package distribute

// raceEnabled: the race detector slows every process of a test several
// times over, so the process tests use smaller helpdesks.
const raceEnabled = true
