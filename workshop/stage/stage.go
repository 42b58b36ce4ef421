// Package stage is what the workshop knows about a stage module and how it
// becomes something that runs: the services of each stage and their ports
// (SPEC §3), where the modules are in a checkout, how the services are
// compiled (one static go build, GOWORK=off, so a copy anywhere builds the
// same), how they are packed into a FROM scratch image (the one recipe, see
// Dockerfile), and how they run here as processes (StartLocal).
//
// It is the workshop module's only package outside internal/, because the
// stack module needs the same: its tests read the port table and run stages
// here to scrape their metrics. Importing this package keeps one
// implementation of those jobs with the least coupling: it uses the standard
// library only, so the stack compiles nothing of the CLI (Docker client,
// viewer, lessons), and a changed signature fails the stack's build at once
// instead of a copy drifting. What needs the Docker engine goes through the
// CLI, which links its client: `make stageN-docker` and the stack's compose
// test run `workshop pack N`, which asks the engine for its architecture and
// calls Pack; the CLI's own containers (internal/runtime) use the same
// Dockerfile.
package stage

import "github.com/go-o11y-workshop/kit/workshop/internal/repo"

// Root finds the workshop checkout that holds dir: the nearest parent with
// go.work and stages/, or $WORKSHOP_ROOT when set.
func Root(dir string) (string, error) { return repo.Root(dir) }

// Dir is the reference module of stage n, stages/stageN under root.
func Dir(root string, n int) string { return repo.StageDir(root, n) }
