// Command fixturegen writes the USD test fixtures:
//
//	go run ./usd/internal/fixturegen/cmd/fixturegen -out testdata/usd
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/dvsync/dvsync/usd/internal/fixturegen"
)

func main() {
	out := flag.String("out", "testdata/usd", "directory to write the fixture zips into")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "fixturegen:", err)
		os.Exit(1)
	}
	if err := fixturegen.WriteAll(*out); err != nil {
		fmt.Fprintln(os.Stderr, "fixturegen:", err)
		os.Exit(1)
	}
}
