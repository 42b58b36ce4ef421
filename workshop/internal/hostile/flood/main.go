// Command flood sends issue 14's hostile OTLP to a receiver and prints the
// peak resident memory of a process (the CLI under attack) before and after,
// read from /proc (Linux): a measurement, not a test.
//
//	go run ./internal/hostile/flood -url http://127.0.0.1:4318 -pid $(pgrep -n workshop) -attr 120
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/go-o11y-workshop/kit/workshop/internal/hostile"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:4318", "the OTLP/HTTP base URL")
	pid := flag.Int("pid", 0, "the process whose peak RSS to print (0: none)")
	attr := flag.Int("attr", 0, "traces with one 15 MB attribute each to send")
	ids := flag.Int("ids", 0, "distinct trace ids to send in one request")
	logs := flag.Int("logs", 0, "log lines of 1 MB to send, in requests of 10")
	flag.Parse()
	ctx := context.Background()
	fmt.Printf("before: peak RSS %s\n", peakRSS(*pid))
	status := map[int]int{}
	for range *attr {
		st, err := hostile.Post(ctx, *url, hostile.BigAttribute(15<<20))
		check(err)
		status[st]++
	}
	if *ids > 0 {
		st, err := hostile.Post(ctx, *url, hostile.TraceIDFlood(*ids))
		check(err)
		status[st]++
	}
	for i := 0; i < *logs; i += 10 {
		st, err := hostile.Post(ctx, *url, hostile.BigLogLines(min(10, *logs-i), 1<<20))
		check(err)
		status[st]++
	}
	fmt.Printf("answers by status: %v\n", status)
	fmt.Printf("after: peak RSS %s\n", peakRSS(*pid))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(1)
	}
}

// peakRSS is VmHWM of /proc/pid/status.
func peakRSS(pid int) string {
	if pid == 0 {
		return "(no -pid)"
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return err.Error()
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:"))
		}
	}
	return "unknown"
}
