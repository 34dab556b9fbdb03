package main_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/flipbench/flipbench/"

// natsClient is the NATS client: only the queue (and the CLI) may link it.
const natsClient = "github.com/nats-io/nats.go"

// deps lists what pkg links: every package it imports, directly or not.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", module+pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// TestDependencyArrows checks the package map of ARCHITECTURE.md: the
// arrows run one way, and reading or reporting results never links the
// flip server, its embedded photo or the image library.
func TestDependencyArrows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pkg string
		// ours lists the only packages of this module it may link.
		ours []string
		// never lists other packages it must not link.
		never []string
	}{
		{"results", nil, []string{"github.com/disintegration/imaging"}},
		{"loadgen", []string{"results"}, []string{"github.com/disintegration/imaging", natsClient}},
		{"report", []string{"results"}, []string{"github.com/disintegration/imaging", "github.com/tsenart/vegeta/v12/lib", natsClient}},
		{"fixtures", nil, nil},
		{"server", []string{"fixtures"}, []string{"github.com/tsenart/vegeta/v12/lib", natsClient}},
		{"queue", []string{"server", "fixtures"}, []string{"github.com/tsenart/vegeta/v12/lib"}},
		{"bench", []string{"server", "fixtures", "loadgen", "results"}, nil},
		{"report/simulate", []string{"report", "results"}, []string{"github.com/disintegration/imaging", "github.com/tsenart/vegeta/v12/lib"}},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			t.Parallel()
			for _, d := range deps(t, tt.pkg) {
				if d == module+tt.pkg {
					continue
				}
				if ours, ok := strings.CutPrefix(d, module); ok && !slices.Contains(tt.ours, ours) {
					t.Errorf("%s links %s; it may link only %v of ours", tt.pkg, ours, tt.ours)
				}
				if slices.Contains(tt.never, d) {
					t.Errorf("%s links %s", tt.pkg, d)
				}
			}
		})
	}
}
