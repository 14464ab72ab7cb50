package main

import (
	"regexp"
	"strings"
)

// packagePrefixes are the names of this module's packages, which by Go
// convention open their error messages ("pipeline: no probes to train on").
// They tell a developer where an error came from but mean nothing to a user,
// so the CLI strips them where errors reach the terminal. The service
// packages (dns, http, tls, ssh, rdp) are left out on purpose: "http: header line too
// long" names the protocol, which the user knows. TestPackagePrefixesCoverInternal
// keeps this list in step with internal/. "labels" is how the label package
// spells its prefix.
var packagePrefixes = []string{
	"abuse", "all", "analysis", "app", "atomicfile", "benchutil", "buildinfo", "capture", "console", "corpusfile",
	"ensemble", "eval", "evidence", "feature", "grid", "ingest", "label", "labels", "lists", "nn", "openset", "pcapfilter", "pipeline",
	"probe", "sensor", "server", "servicetest", "sharedtest", "simulate", "store",
}

// prefixRE matches one or more package prefixes at the start of a message
// or right after a wrapping ": ".
var prefixRE = regexp.MustCompile(`(^|: )(?:(?:` + strings.Join(packagePrefixes, "|") + `): )+`)

// userMessage is err's message without package prefixes: "store: open x.db:
// ..." becomes "open x.db: ...", "x.csv: labels: line 3" becomes "x.csv: line 3".
func userMessage(err error) string {
	return prefixRE.ReplaceAllString(err.Error(), "$1")
}
