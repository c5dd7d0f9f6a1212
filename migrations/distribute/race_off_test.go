//go:build !race

package distribute

const raceEnabled = false
