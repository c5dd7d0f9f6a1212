//go:build race

package syncjob_test

// raceEnabled shrinks the soak under -race, where every child process
// runs several times slower.
const raceEnabled = true
