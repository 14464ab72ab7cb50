package main

import (
	"os"
	"strings"
	"testing"
)

func TestZZRun(t *testing.T) {
	args := os.Getenv("ZZ_ARGS")
	if args == "" {
		t.Skip()
	}
	if code := run(strings.Fields(args)); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
