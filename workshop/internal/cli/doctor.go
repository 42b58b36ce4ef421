package cli

import (
	"context"
	"fmt"
	"runtime"

	"github.com/go-o11y-workshop/kit/workshop/internal/doctor"
)

func runDoctor(env *Env, args []string) error {
	fs := newFlags(env, "doctor", "")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("doctor takes no arguments (got %q)", rest[0])
	}
	r := doctor.Inspect(context.Background())
	w := env.Stdout
	fmt.Fprintf(w, "workshop doctor  (%s/%s, workshop built with %s)\n\n", r.OS, r.Arch, runtime.Version())
	if r.GoError != "" {
		fmt.Fprintf(w, "go       PROBLEM  %s\n", r.GoError)
	} else {
		fmt.Fprintf(w, "go       ok       %s\n", r.GoVersion)
	}
	if r.DockerOK {
		fmt.Fprintf(w, "docker   ok       %s at %s\n", r.DockerDetail, r.DockerHost)
	} else {
		fmt.Fprintf(w, "docker   absent   %s\n", r.DockerDetail)
	}
	fmt.Fprintf(w, "check    runtime  %s (workshop check --runtime auto)\n\n", r.Runtime())
	taken := 0
	for _, p := range r.Ports {
		if p.Free {
			fmt.Fprintf(w, "port %-5d free     %s\n", p.Number, p.Purpose)
			continue
		}
		taken++
		fmt.Fprintf(w, "port %-5d TAKEN    %s — held by %s\n", p.Number, p.Purpose, p.HeldBy)
	}
	if taken > 0 {
		fmt.Fprintf(w, "\n%d port(s) taken: stop what holds them, or set PORT for a service (compose: edit .env).\n", taken)
	}
	return nil
}
