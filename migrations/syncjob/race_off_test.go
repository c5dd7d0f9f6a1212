//go:build !race

package syncjob_test

const raceEnabled = false
