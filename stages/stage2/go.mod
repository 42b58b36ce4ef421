module github.com/go-o11y-workshop/kit/stages/stage2

go 1.26.0
