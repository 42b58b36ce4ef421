package lesson

import (
	"fmt"
	"os"
	"strings"

	"charm.land/glamour/v2"
	"charm.land/glamour/v2/styles"
)

// Styles accepted by --style.
var Styles = []string{styles.DarkStyle, styles.LightStyle, styles.NoTTYStyle, styles.AsciiStyle}

// Output says how the terminal on the other end looks.
type Output struct {
	Terminal bool   // stdout is a terminal
	Width    int    // its width in columns, 0 when unknown
	Style    string // explicit style ("" picks one)
}

// ChooseStyle picks the glamour style: the explicit one if given (or
// GLAMOUR_STYLE); notty when the output is not a terminal or NO_COLOR is set;
// otherwise light or dark from the terminal's background (COLORFGBG).
func ChooseStyle(o Output) (string, error) {
	style := o.Style
	if style == "" {
		style = os.Getenv("GLAMOUR_STYLE")
	}
	if style != "" {
		for _, s := range Styles {
			if s == style {
				return style, nil
			}
		}
		return "", fmt.Errorf("unknown style %q; valid: %s", style, strings.Join(Styles, ", "))
	}
	if !o.Terminal || os.Getenv("NO_COLOR") != "" {
		return styles.NoTTYStyle, nil
	}
	if lightBackground(os.Getenv("COLORFGBG")) {
		return styles.LightStyle, nil
	}
	return styles.DarkStyle, nil
}

// lightBackground reads COLORFGBG ("15;0" is light text on black): a
// background colour of 7 or 15 is a light terminal.
func lightBackground(colorfgbg string) bool {
	parts := strings.Split(colorfgbg, ";")
	bg := parts[len(parts)-1]
	return bg == "7" || bg == "15"
}

// Render renders markdown for o.
func Render(markdown string, o Output) (string, error) {
	style, err := ChooseStyle(o)
	if err != nil {
		return "", err
	}
	width := o.Width
	if width <= 0 || width > 120 {
		width = min(max(width, 80), 120)
	}
	r, err := glamour.NewTermRenderer(
		glamour.WithStandardStyle(style),
		glamour.WithWordWrap(width-2),
	)
	if err != nil {
		return "", err
	}
	out, err := r.Render(markdown)
	if err != nil || style != styles.NoTTYStyle {
		return out, err
	}
	// Plain text goes to files and pipes: drop the padding glamour adds to
	// fill each line to the wrap width.
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n"), nil
}
