package cli

import (
	"bufio"
	"fmt"
	"strings"
)

// confirm asks a yes/no question on Stderr and reads one line of Stdin; no
// input (nil Stdin, end of file) is "no".
func (e *Env) confirm(question string) bool {
	fmt.Fprintf(e.Stderr, "%s [y/N] ", question)
	if e.Stdin == nil {
		fmt.Fprintln(e.Stderr)
		return false
	}
	line, _ := bufio.NewReader(e.Stdin).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

// stageList is "1, 2, 3".
func stageList(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = fmt.Sprint(n)
	}
	return strings.Join(parts, ", ")
}
