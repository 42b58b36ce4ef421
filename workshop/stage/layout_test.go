package stage

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
)

// TestPortTableIsTheOneTheStagesAndREADMEUse: the port table here is the
// one copy the code reads; the stages' own defaults (teaching code, which
// shares nothing) and README's table must say the same.
func TestPortTableIsTheOneTheStagesAndREADMEUse(t *testing.T) {
	root, err := repo.Root(".")
	require.NoError(t, err)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	defaultPort := regexp.MustCompile(`defaultPort\s*=\s*(\d+)`)
	row := regexp.MustCompile(`(?m)^\| (\d) \| [^|]+ \| ([–\d]+) \| ([–\d]+) \| ([–\d]+) \|$`)
	rows := map[int][]string{}
	for _, m := range row.FindAllStringSubmatch(string(readme), -1) {
		n, _ := strconv.Atoi(m[1])
		rows[n] = m[2:]
	}

	for n := 1; n <= repo.Stages; n++ {
		services, err := Layout(n)
		require.NoError(t, err)
		want := map[string]string{"die-service": "–", "dice-roller": "–", "frontend": "–"}
		for _, s := range services {
			main, err := os.ReadFile(filepath.Join(Dir(root, n), s.Name, "main.go"))
			require.NoError(t, err)
			m := defaultPort.FindSubmatch(main)
			require.NotNil(t, m, "stage %d %s: main.go has no defaultPort", n, s.Name)
			assert.Equal(t, strconv.Itoa(s.Port), string(m[1]), "stage %d %s: defaultPort in main.go", n, s.Name)
			want[s.Name] = strconv.Itoa(s.Port)
		}
		assert.Equal(t, []string{want["die-service"], want["dice-roller"], want["frontend"]}, rows[n],
			"README's table, stage %d (die-service, dice-roller, frontend)", n)
	}
	assert.Len(t, rows, repo.Stages, "README has a row per stage:\n%s", strings.Join(row.FindAllString(string(readme), -1), "\n"))
}
