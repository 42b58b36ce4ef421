package class

import (
	"strings"
	"testing"

	qrcode "github.com/skip2/go-qrcode"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQRDrawsTheCodesModules reads the half blocks back into modules and
// compares them with the QR code's own bitmap, with and without colour.
func TestQRDrawsTheCodesModules(t *testing.T) {
	text := "http://192.168.1.20:8200/join?code=K7QF3M"
	q, err := qrcode.New(text, qrcode.Medium)
	require.NoError(t, err)
	want := q.Bitmap()

	for _, color := range []bool{true, false} {
		out, err := QR(text, color)
		require.NoError(t, err)
		if color {
			assert.Contains(t, out, "\x1b[30;107m", "black on white, whatever the terminal's theme")
		} else {
			assert.NotContains(t, out, "\x1b")
		}
		out = strings.NewReplacer("\x1b[30;107m", "", "\x1b[0m", "").Replace(out)
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		require.Len(t, lines, (len(want)+1)/2)
		got := make([][]bool, 0, len(want))
		for _, line := range lines {
			top, bottom := []bool{}, []bool{}
			for _, r := range line {
				up := r == '█' || r == '▀'
				down := r == '█' || r == '▄'
				if !color { // the blocks are the light modules
					up, down = !up, !down
				}
				top, bottom = append(top, up), append(bottom, down)
			}
			got = append(got, top, bottom)
		}
		assert.Equal(t, want, got[:len(want)], "colour %v", color)
	}
}
