package stage

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// untar reads a tar into name → content.
func untar(t *testing.T, r io.Reader) (map[string][]byte, map[string]int64) {
	t.Helper()
	files, modes := map[string][]byte{}, map[string]int64{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, modes
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		files[h.Name], modes[h.Name] = b, h.Mode
	}
}

// TestBothRenderingsOfTheRecipeAgree: the image docker load gets (the CLI's
// containers) holds what the Dockerfile (compose) copies, where it copies
// it, run by the same user with the same entrypoint; only the probe is
// compose's alone.
func TestBothRenderingsOfTheRecipeAgree(t *testing.T) {
	binary := filepath.Join(t.TempDir(), "dice-roller")
	require.NoError(t, os.WriteFile(binary, []byte("\x7fELF a static binary"), 0o755))
	var archive bytes.Buffer
	labels := map[string]string{"io.example.run": "42"}
	require.NoError(t, ImageArchive(&archive, binary, "arm64", "workshop.local/dice-roller:t", labels))

	files, _ := untar(t, &archive)
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	require.NoError(t, json.Unmarshal(files["manifest.json"], &manifest))
	require.Len(t, manifest, 1)
	assert.Equal(t, []string{"workshop.local/dice-roller:t"}, manifest[0].RepoTags)
	require.Len(t, manifest[0].Layers, 1)
	var config struct {
		Architecture, OS string
		Config           struct {
			User       string
			Env        []string
			Entrypoint []string
			Labels     map[string]string
		}
		RootFS struct {
			Type    string
			DiffIDs []string `json:"diff_ids"`
		}
	}
	require.NoError(t, json.Unmarshal(files[manifest[0].Config], &config))
	assert.Equal(t, fmt.Sprintf("%x.json", sha256.Sum256(files[manifest[0].Config])), manifest[0].Config, "named by its digest")
	assert.Equal(t, "arm64", config.Architecture)
	assert.Equal(t, "linux", config.OS)
	assert.Equal(t, labels, config.Config.Labels)
	layer := files[manifest[0].Layers[0]]
	assert.Equal(t, []string{fmt.Sprintf("sha256:%x", sha256.Sum256(layer))}, config.RootFS.DiffIDs)
	inLayer, modes := untar(t, bytes.NewReader(layer))
	require.Len(t, inLayer, 1)

	dockerfile := Dockerfile()
	user := regexp.MustCompile(`(?m)^USER (\S+)$`).FindStringSubmatch(dockerfile)
	entry := regexp.MustCompile(`(?m)^ENTRYPOINT \["(\S+)"\]$`).FindStringSubmatch(dockerfile)
	copied := regexp.MustCompile(`(?m)^COPY \$\{SERVICE\} (\S+)$`).FindStringSubmatch(dockerfile)
	require.NotNil(t, user)
	require.NotNil(t, entry)
	require.NotNil(t, copied)
	assert.Equal(t, user[1], config.Config.User)
	assert.Equal(t, "65534:65534", config.Config.User, "unprivileged")
	assert.Equal(t, []string{entry[1]}, config.Config.Entrypoint)
	env := regexp.MustCompile(`(?m)^ENV (\S+)$`).FindStringSubmatch(dockerfile)
	require.NotNil(t, env)
	assert.Equal(t, []string{env[1]}, config.Config.Env, "both recipes set the same environment")
	assert.Equal(t, "LISTEN_HOST=0.0.0.0", env[1], "in its own network namespace a service answers on every interface")
	assert.Equal(t, entry[1], copied[1], "the service is what runs")
	for name, content := range inLayer {
		assert.Equal(t, copied[1], "/"+name, "the binary is where the Dockerfile copies it")
		assert.Equal(t, "\x7fELF a static binary", string(content))
		assert.Equal(t, int64(0o755), modes[name])
	}
	assert.Contains(t, dockerfile, "FROM scratch\n")
	assert.Contains(t, dockerfile, "COPY probe /probe\n", "compose's healthcheck")
}
