package class

import (
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// QR draws text as a QR code for a terminal, two rows of modules per line
// of half-block characters, with the quiet zone readers need. With colour,
// it paints black on white itself, so it scans on any terminal theme;
// without, the blocks are the light modules, which suits the usual dark
// terminal (and phone readers take inverted codes too).
func QR(text string, color bool) (string, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return "", err
	}
	bits := q.Bitmap() // true is a dark module; the border is included
	var b strings.Builder
	for y := 0; y < len(bits); y += 2 {
		if color {
			b.WriteString("\x1b[30;107m")
		}
		for x := range bits[y] {
			top := bits[y][x]
			bottom := y+1 < len(bits) && bits[y+1][x]
			if !color { // draw the light modules
				top, bottom = !top, y+1 < len(bits) && !bottom
			}
			b.WriteString(halfBlock(top, bottom))
		}
		if color {
			b.WriteString("\x1b[0m")
		}
		b.WriteByte('\n')
	}
	return b.String(), nil
}

func halfBlock(top, bottom bool) string {
	switch {
	case top && bottom:
		return "█"
	case top:
		return "▀"
	case bottom:
		return "▄"
	}
	return " "
}
