package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/go-o11y-workshop/kit/workshop/internal/traffic"
	"github.com/go-o11y-workshop/kit/workshop/stage"
)

func runTraffic(env *Env, args []string) error {
	fs := newFlags(env, "traffic", "N [--url URL] [--users 5] [--max-rolls 10] [--async-probability 0.3] [--max-async-rolls 10] [--duration 60s]")
	rawURL := fs.String("url", "", "base URL of the stage's entry service (default: http://localhost:<its frontend port>, or the dice-roller's in stage 1)")
	users := fs.Int("users", 5, "simulated users, all rolling at once")
	maxRolls := fs.Int("max-rolls", 10, "each user makes 1 to this many requests")
	asyncProb := fs.Float64("async-probability", 0.3, "chance that a request is a /roll-async batch (stage 4 only)")
	maxAsync := fs.Int("max-async-rolls", 10, "an async request rolls 1 to this many dice, at most 20 (stage 4 only)")
	duration := fs.Duration("duration", 60*time.Second, "stop after this long even if users are still rolling")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("traffic needs one stage: workshop traffic 4")
	}
	n, err := stageArg(rest[0])
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if n != 4 {
		for _, name := range []string{"async-probability", "max-async-rolls"} {
			if set[name] {
				return usagef("--%s applies to stage 4 (the only stage with /roll-async), not stage %d", name, n)
			}
		}
		*asyncProb = 0
	}
	o := traffic.Options{
		URL: *rawURL, Users: *users, MaxRolls: *maxRolls, AsyncProbability: *asyncProb,
		MaxAsyncRolls: *maxAsync, Duration: *duration,
	}
	if o.URL == "" {
		if o.URL, err = entryURL(n); err != nil {
			return err
		}
	}
	if err := o.Validate(); err != nil {
		return usageError{err.Error()}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if env.Terminal {
		// One line, rewritten in place; pipes get only the summary.
		o.Progress = func(s traffic.Snapshot) { fmt.Fprintf(env.Stdout, "\r\033[K%s", traffic.ProgressLine(s)) }
	}
	fmt.Fprintf(env.Stderr, "sending traffic to %s: %d users, up to %d rolls each, for at most %s\n", o.URL, o.Users, o.MaxRolls, o.Duration)
	res, err := traffic.Run(ctx, o)
	if err != nil {
		return err
	}
	if env.Terminal {
		fmt.Fprintln(env.Stdout)
	}
	traffic.WriteSummary(env.Stdout, res)
	if res.Requests > 0 && res.ByOutcome[traffic.TransportError] == res.Requests {
		fmt.Fprintf(env.Stderr, "nothing answered at %s: is stage %d running? (workshop up %d)\n", o.URL, n, n)
		return errSilentFailure
	}
	return nil
}

// entryURL is where people reach stage n: its frontend, or the dice-roller
// in stage 1.
func entryURL(n int) (string, error) {
	services, err := stage.Layout(n)
	if err != nil {
		return "", usageError{err.Error()}
	}
	entry := services[len(services)-1] // dependencies first: the entry is last
	return "http://localhost:" + strconv.Itoa(entry.Port), nil
}
