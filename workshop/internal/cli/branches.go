package cli

import (
	"context"
	"fmt"

	"github.com/go-o11y-workshop/kit/workshop/internal/branches"
)

// runBranches writes the stage-N and exercise-N git branches from a commit's
// stages/ and exercises/ (for maintainers and instructors: every stage's
// diff browsable on a git host, `git checkout stage-3` in the room).
func runBranches(env *Env, args []string) error {
	fs := newFlags(env, "branches", "[--from REV] [--dry-run]")
	from := fs.String("from", "HEAD", "the commit whose stages/ and exercises/ the branches are made of (the work tree is never read)")
	dryRun := fs.Bool("dry-run", false, "print what would change and write no branch")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return usagef("branches takes no arguments; the commit to read goes in --from")
	}
	if *from == "" {
		return usagef("--from needs a commit, branch or tag")
	}
	root, err := env.root()
	if err != nil {
		return err
	}
	ctx := context.Background()
	plan, err := branches.Build(ctx, root, *from)
	if err != nil {
		return err
	}
	if !*dryRun {
		if err := plan.Write(ctx); err != nil {
			return err
		}
	}
	fmt.Fprintf(env.Stdout, "branches from %s = commit %s (its stages/ and exercises/, not the work tree)\n", plan.From, plan.Short)
	for _, b := range plan.Branches {
		state := string(b.State())
		if *dryRun && b.State() != branches.Unchanged {
			state = "would be " + state
		}
		fmt.Fprintf(env.Stdout, "  %-10s %s  %-17s %d files\n", b.Name, b.Short, state, b.Files)
	}
	if !*dryRun {
		return nil
	}
	// A dry run also says when the real run would refuse.
	if err := plan.Blocked(); err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, "dry run: no branch written")
	return nil
}
