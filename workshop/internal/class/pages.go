package class

import (
	"fmt"
	"html/template"
	"time"
)

var funcs = template.FuncMap{
	"ago":   formatAgo,
	"clock": func(t time.Time) string { return t.Local().Format("15:04:05") },
}

// formatAgo is a duration as people say it on a board: "40 s", "12 min",
// "1 h 05 min".
func formatAgo(d time.Duration) string {
	switch {
	case d < 0:
		return "0 s"
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	default:
		return fmt.Sprintf("%d h %02d min", int(d.Hours()), int(d.Minutes())%60)
	}
}
