package lesson

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"charm.land/glamour/v2"
	"charm.land/glamour/v2/ansi"
	"charm.land/glamour/v2/styles"
	xansi "github.com/charmbracelet/x/ansi"
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

// DefaultWidth is the width prose wraps at when nothing says otherwise.
const DefaultWidth = 80

// MinWidth is the narrowest prose wraps at.
const MinWidth = 20

// Render renders markdown for o. Prose wraps at o.Width (DefaultWidth when
// 0); code blocks are never wrapped, so a line of code copied from the
// terminal is the line of the source (glamour wraps them: its issue #479).
// They are rendered apart, unwrapped, and put back where they were.
func Render(markdown string, o Output) (string, error) {
	style, err := ChooseStyle(o)
	if err != nil {
		return "", err
	}
	width := o.Width
	if width <= 0 {
		width = DefaultWidth
	}
	width = max(width, MinWidth)
	prose, blocks := cutCodeBlocks(markdown)
	out, err := render(prose, style, width)
	if err != nil {
		return "", err
	}
	if len(blocks) > 0 {
		// How far glamour indents a paragraph of the document: a placeholder
		// indented further sits in a list, and so does its code.
		alone, err := render(placeholder(0)+"\n", style, width)
		if err != nil {
			return "", err
		}
		base := visibleIndent(lineWith(alone, placeholder(0)))
		lines := strings.Split(out, "\n")
		for i, b := range blocks {
			code, err := renderCode(b, style)
			if err != nil {
				return "", err
			}
			at := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, placeholder(i)) })
			if at < 0 {
				return "", fmt.Errorf("rendering: code block %d was lost", i+1)
			}
			extra := strings.Repeat(" ", max(0, visibleIndent(lines[at])-base))
			var replace []string
			// glamour may flow the placeholder into the line of the text
			// before or after it (in a list item): that text stays.
			before, after, _ := strings.Cut(lines[at], placeholder(i))
			if strings.TrimSpace(xansi.Strip(before)) != "" {
				replace = append(replace, before+reset(style))
			}
			for _, l := range code {
				replace = append(replace, extra+l)
			}
			if strings.TrimSpace(xansi.Strip(after)) != "" {
				replace = append(replace, strings.Repeat(" ", base)+after)
			}
			lines = slices.Concat(lines[:at], replace, lines[at+1:])
		}
		out = strings.Join(lines, "\n")
	}
	if style != styles.NoTTYStyle {
		return out, nil
	}
	// Plain text goes to files and pipes: drop the padding glamour adds to
	// fill each line to the wrap width.
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n"), nil
}

// render runs glamour; width 0 wraps nothing.
func render(markdown, style string, width int) (string, error) {
	r, err := glamour.NewTermRenderer(glamour.WithStyles(styleConfig(style)), glamour.WithWordWrap(width))
	if err != nil {
		return "", err
	}
	return r.Render(markdown)
}

// renderCode renders one code block, unwrapped, as lines. glamour colours
// code with chroma where the style has a theme; without one it prints the
// code as text with markdown's backslash escapes undone ("\\{" becomes "{"),
// which changes the code: plain styles print its lines as they are.
func renderCode(b codeBlock, style string) ([]string, error) {
	cfg := styleConfig(style)
	if cfg.CodeBlock.Theme == "" && cfg.CodeBlock.Chroma == nil {
		margin := 0
		for _, m := range []*uint{cfg.Document.Margin, cfg.CodeBlock.Margin, cfg.CodeBlock.Indent} {
			if m != nil {
				margin += int(*m)
			}
		}
		out := make([]string, len(b.lines))
		for i, l := range b.lines {
			out[i] = strings.Repeat(" ", margin) + l
		}
		return trimBlankLines(out), nil
	}
	md := b.fence + b.info + "\n" + strings.Join(b.lines, "\n") + "\n" + b.fence + "\n"
	out, err := render(md, style, 0)
	if err != nil {
		return nil, err
	}
	return trimBlankLines(strings.Split(out, "\n")), nil
}

// styleConfig is the named glamour style; plain text is glamour's notty
// style without the markers of emphasis: it cannot show bold, and "**"
// around a word is noise to a reader.
func styleConfig(style string) ansi.StyleConfig {
	if style != styles.NoTTYStyle {
		if cfg, ok := styles.DefaultStyles[style]; ok {
			return *cfg
		}
	}
	s := styles.NoTTYStyleConfig
	s.Emph = ansi.StylePrimitive{}
	s.Strong = ansi.StylePrimitive{}
	s.Strikethrough = ansi.StylePrimitive{}
	return s
}

// codeBlock is a fenced code block: its fence, what follows the opening one
// (the language), and its lines without the fence's indentation.
type codeBlock struct {
	fence, info string
	lines       []string
}

// fence opens or closes a fenced code block: its indentation, its run of
// backticks or tildes, and what follows (the language).
var fence = regexp.MustCompile("^( *)(`{3,}|~{3,})(.*)$")

// cutCodeBlocks replaces each fenced code block of markdown by a placeholder
// paragraph at the block's indentation, and returns the blocks.
func cutCodeBlocks(markdown string) (string, []codeBlock) {
	lines := strings.Split(markdown, "\n")
	var out []string
	var blocks []codeBlock
	for i := 0; i < len(lines); i++ {
		m := fence.FindStringSubmatch(lines[i])
		if m == nil || (m[2][0] == '`' && strings.Contains(m[3], "`")) {
			out = append(out, lines[i])
			continue
		}
		indent, marks := m[1], m[2]
		end := i + 1
		for end < len(lines) {
			if c := fence.FindStringSubmatch(lines[end]); c != nil && c[2][0] == marks[0] && len(c[2]) >= len(marks) && strings.TrimSpace(c[3]) == "" {
				break
			}
			end++
		}
		if end == len(lines) { // never closed: markdown runs it to the end
			out = append(out, lines[i:]...)
			break
		}
		b := codeBlock{fence: marks, info: m[3]}
		for _, l := range lines[i+1 : end] {
			b.lines = append(b.lines, strings.TrimPrefix(l, indent))
		}
		out = append(out, "", indent+placeholder(len(blocks)), "")
		blocks = append(blocks, b)
		i = end
	}
	return strings.Join(out, "\n"), blocks
}

// trimBlankLines drops the lines without visible text at both ends.
func trimBlankLines(lines []string) []string {
	blank := func(l string) bool { return strings.TrimSpace(xansi.Strip(l)) == "" }
	for len(lines) > 0 && blank(lines[0]) {
		lines = lines[1:]
	}
	for len(lines) > 0 && blank(lines[len(lines)-1]) {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// reset ends the colours a cut line leaves open.
func reset(style string) string {
	if style == styles.NoTTYStyle {
		return ""
	}
	return "\x1b[m"
}

// placeholder is a word no lesson contains, short enough to never wrap.
func placeholder(i int) string { return fmt.Sprintf("QQCODE%dQQ", i) }

func lineWith(text, word string) string {
	for l := range strings.SplitSeq(text, "\n") {
		if strings.Contains(l, word) {
			return l
		}
	}
	return ""
}

// visibleIndent counts the spaces a line starts with, ANSI escapes aside.
func visibleIndent(line string) int {
	plain := xansi.Strip(line)
	return len(plain) - len(strings.TrimLeft(plain, " "))
}
