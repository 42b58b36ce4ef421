package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCatalog(t *testing.T) {
	tests := []struct {
		name     string
		json     string
		want     Catalog
		wantErrs []string // substrings the error must contain
	}{
		{
			name: "valid",
			json: `{"fair": {"faces": [1,2,3,4,5,6], "error_rate": 0}, "d2": {"faces": [1,2], "error_rate": 1}}`,
			want: Catalog{"fair": {Faces: []int{1, 2, 3, 4, 5, 6}}, "d2": {Faces: []int{1, 2}, ErrorRate: 1}},
		},
		{
			name: "error_rate omitted means never fails",
			json: `{"coin": {"faces": [0,1]}}`,
			want: Catalog{"coin": {Faces: []int{0, 1}}},
		},
		{
			name:     "no faces key",
			json:     `{"fair": {"faces": [1]}, "blank": {"error_rate": 0}}`,
			wantErrs: []string{`"blank"`, "no faces"},
		},
		{
			name:     "empty faces",
			json:     `{"blank": {"faces": [], "error_rate": 0}}`,
			wantErrs: []string{`"blank"`, "no faces"},
		},
		{
			name:     "negative error rate",
			json:     `{"odd": {"faces": [1], "error_rate": -0.1}}`,
			wantErrs: []string{`"odd"`, "error_rate", "[0, 1]"},
		},
		{
			name:     "error rate above one",
			json:     `{"odd": {"faces": [1], "error_rate": 1.5}}`,
			wantErrs: []string{`"odd"`, "1.5", "[0, 1]"},
		},
		{
			name:     "no dice",
			json:     `{}`,
			wantErrs: []string{"no dice"},
		},
		{
			name:     "empty file",
			json:     ``,
			wantErrs: []string{"invalid die specifications"},
		},
		{
			name:     "not JSON",
			json:     `fair: [1,2,3]`,
			wantErrs: []string{"invalid die specifications"},
		},
		{
			name:     "faces of the wrong type",
			json:     `{"fair": {"faces": "1-6"}}`,
			wantErrs: []string{"invalid die specifications"},
		},
		{
			name:     "empty identifier",
			json:     `{"": {"faces": [1]}}`,
			wantErrs: []string{"empty identifier"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCatalog([]byte(tt.json))
			if len(tt.wantErrs) > 0 {
				require.Error(t, err)
				assert.Nil(t, got)
				for _, s := range tt.wantErrs {
					assert.Contains(t, err.Error(), s)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestLoadCatalogDefault(t *testing.T) {
	c, err := loadCatalog("")
	require.NoError(t, err)
	assert.Equal(t, Catalog{
		"fair":  {Faces: []int{1, 2, 3, 4, 5, 6}, ErrorRate: 0},
		"risky": {Faces: []int{2, 3, 4, 5, 6, 7}, ErrorRate: 0.1},
	}, c, "the embedded default is the spec's fair and risky")
}

func TestLoadCatalogFromFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}

	good := write("good.json", `{"d20": {"faces": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20], "error_rate": 0.05}}`)
	c, err := loadCatalog(good)
	require.NoError(t, err)
	assert.Equal(t, []string{"d20"}, c.Identifiers(), "the file replaces the default")

	bad := write("bad.json", `{"fair": {"faces": [1,2,3]}, "broken": {"faces": [1], "error_rate": 2}}`)
	_, err = loadCatalog(bad)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "DIE_SPECS_FILE")
	assert.Contains(t, err.Error(), bad, "the error names the file")
	assert.Contains(t, err.Error(), `"broken"`, "the error names the die")

	_, err = loadCatalog(filepath.Join(dir, "missing.json"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot read DIE_SPECS_FILE")
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    config
		wantErr string
	}{
		{
			name: "defaults",
			env:  map[string]string{},
			want: config{port: 8106, shutdownTimeout: 10 * time.Second},
		},
		{
			name: "overrides",
			env:  map[string]string{"PORT": "9106", "DIE_SPECS_FILE": "/etc/dice.json", "SHUTDOWN_TIMEOUT": "2s"},
			want: config{port: 9106, specsFile: "/etc/dice.json", shutdownTimeout: 2 * time.Second},
		},
		{name: "bad port", env: map[string]string{"PORT": "abc"}, wantErr: "PORT"},
		{name: "bad shutdown timeout", env: map[string]string{"SHUTDOWN_TIMEOUT": "soon"}, wantErr: "SHUTDOWN_TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"PORT", "DIE_SPECS_FILE", "SHUTDOWN_TIMEOUT"} {
				t.Setenv(k, tt.env[k])
			}
			got, err := loadConfig()
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
