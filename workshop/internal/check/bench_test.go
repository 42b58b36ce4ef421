package check

import (
	"testing"
	"time"

	"github.com/go-o11y-workshop/kit/workshop/internal/runtime"
)

// BenchmarkCheck4 measures the wall time of `workshop check 4` on the
// reference, per runtime, with the Go build cache warm and cold (a fresh
// GOCACHE makes every package compile again, as on a learner's first check).
//
//	go test -run '^$' -bench Check4 -benchtime 1x ./internal/check/
func BenchmarkCheck4(b *testing.B) {
	dir := referenceDir(b, 4)
	runtimes := []string{"local"}
	if _, err := runtime.DetectEngine(b.Context()); err == nil {
		runtimes = append(runtimes, "docker")
	}
	for _, rt := range runtimes {
		for _, cache := range []string{"warm", "cold"} {
			b.Run(rt+"/"+cache, func(b *testing.B) {
				for b.Loop() {
					if cache == "cold" {
						b.StopTimer()
						b.Setenv("GOCACHE", b.TempDir())
						b.StartTimer()
					}
					start := time.Now()
					res, err := Run(b.Context(), Options{Stage: 4, Dir: dir, Runtime: rt})
					if err != nil || !res.OK() {
						b.Fatalf("check 4 on %s did not pass: %v", rt, err)
					}
					b.ReportMetric(time.Since(start).Seconds(), "s/check")
				}
			})
		}
	}
}
