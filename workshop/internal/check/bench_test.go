package check

import (
	"strconv"
	"testing"
	"time"

	"github.com/go-o11y-workshop/kit/workshop/internal/runtime"
)

// BenchmarkCheck measures the wall time of `workshop check N` on each
// reference stage, per runtime, with the Go build cache warm and cold (a
// fresh GOCACHE makes every package compile again, as on a learner's first
// check). The warm runs of every stage:
//
//	go test -run '^$' -bench 'Check/.*/.*/warm' -benchtime 1x ./internal/check/
func BenchmarkCheck(b *testing.B) {
	runtimes := []string{"local"}
	if _, err := runtime.DetectEngine(b.Context()); err == nil {
		runtimes = append(runtimes, "docker")
	}
	for n := 1; n <= 4; n++ {
		dir := referenceDir(b, n)
		for _, rt := range runtimes {
			for _, cache := range []string{"warm", "cold"} {
				b.Run("stage"+strconv.Itoa(n)+"/"+rt+"/"+cache, func(b *testing.B) {
					for b.Loop() {
						if cache == "cold" {
							b.StopTimer()
							b.Setenv("GOCACHE", b.TempDir())
							b.StartTimer()
						}
						start := time.Now()
						res, err := Run(b.Context(), Options{Stage: n, Dir: dir, Runtime: rt})
						if err != nil || !res.OK() {
							b.Fatalf("check %d on %s did not pass: %v", n, rt, err)
						}
						b.ReportMetric(time.Since(start).Seconds(), "s/check")
					}
				})
			}
		}
	}
}
