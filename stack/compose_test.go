package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/stage"
)

type composeService struct {
	Image       string            `yaml:"image"`
	Build       map[string]any    `yaml:"build"`
	PullPolicy  string            `yaml:"pull_policy"`
	Environment map[string]string `yaml:"environment"`
	Labels      map[string]string `yaml:"labels"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	Networks map[string]struct {
		Aliases []string `yaml:"aliases"`
	} `yaml:"networks"`
}

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Networks map[string]struct {
		Name     string `yaml:"name"`
		External bool   `yaml:"external"`
	} `yaml:"networks"`
}

// composeMounts maps a service's bind-mount sources to their targets.
func composeMounts(t *testing.T, file, service string) map[string]string {
	t.Helper()
	var c composeFile
	readYAML(t, file, &c)
	out := map[string]string{}
	for _, v := range c.Services[service].Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 {
			out[parts[0]] = parts[1]
		}
	}
	return out
}

func stageCompose(root string, n int) string {
	return filepath.Join(stage.Dir(root, n), "compose.yaml")
}

var (
	pinnedImage = regexp.MustCompile(`^[a-z0-9./-]+:v?\d+\.\d+\.\d+$`)
	portMapping = regexp.MustCompile(`^\$\{([A-Z0-9_]+):-(\d+)\}:(\d+)$`)
)

// TestStackComposeIsPinned: every image of the stack has an exact version,
// every published port an override variable, and the network is the shared
// external one.
func TestStackComposeIsPinned(t *testing.T) {
	var c composeFile
	readYAML(t, "compose.yaml", &c)
	for _, name := range []string{"alloy", "prometheus", "loki", "tempo", "grafana"} {
		require.Contains(t, c.Services, name)
	}
	for name, s := range c.Services {
		assert.Regexp(t, pinnedImage, s.Image, "%s: pin an exact image version", name)
		for _, p := range s.Ports {
			assert.Regexp(t, portMapping, p, "%s: publish ${VAR:-default}:port so a .env can move it", name)
		}
	}
	assert.True(t, c.Networks["default"].External)
	assert.Equal(t, "${O11Y_NETWORK:-o11y-workshop}", c.Networks["default"].Name)

	args := strings.Join(c.Services["prometheus"].commandArgs(t), " ")
	assert.Contains(t, args, "--enable-feature=exemplar-storage")
	assert.Contains(t, args, "--web.enable-remote-write-receiver")
}

func (s composeService) commandArgs(t *testing.T) []string {
	t.Helper()
	var c struct {
		Services map[string]struct {
			Command []string `yaml:"command"`
		} `yaml:"services"`
	}
	readYAML(t, "compose.yaml", &c)
	for _, svc := range c.Services {
		for _, a := range svc.Command {
			if strings.HasPrefix(a, "--enable-feature") {
				return svc.Command
			}
		}
	}
	return nil
}

// TestStageComposeFiles: each stage's compose file runs the stage's
// services on their SPEC ports (each overridable), healthchecked by the
// probe, sending OTLP to Alloy, finding peers by a stage-unique alias that
// Prometheus scrapes, on the stack's external network.
func TestStageComposeFiles(t *testing.T) {
	root := repoRoot(t)
	var prom struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "prometheus/prometheus.yml", &prom)
	scraped := map[string]string{} // target → job
	for _, sc := range prom.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, tg := range st.Targets {
				scraped[tg] = sc.JobName
			}
		}
	}

	for n, ports := range stagePorts {
		t.Run("stage"+strconv.Itoa(n), func(t *testing.T) {
			var c composeFile
			readYAML(t, stageCompose(root, n), &c)
			services := stageServices(t, n)
			require.Len(t, c.Services, len(services))
			assert.True(t, c.Networks["default"].External)
			assert.Equal(t, "${O11Y_NETWORK:-o11y-workshop}", c.Networks["default"].Name)

			for _, name := range services {
				s, ok := c.Services[name]
				if !assert.True(t, ok, "no service %s", name) {
					continue
				}
				port := ports[name]
				alias := fmt.Sprintf("stage%d-%s", n, name)
				assert.Empty(t, s.Image, "%s: images are built, never pulled", name)
				assert.Equal(t, "build", s.PullPolicy, name)
				assert.Equal(t, name, s.Build["args"].(map[string]any)["SERVICE"], name)
				assert.Equal(t, "http://alloy:4318", s.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"], name)
				assert.Equal(t, []string{"CMD", "/probe", fmt.Sprintf("http://localhost:%d/healthz", port)}, s.Healthcheck.Test, name)
				assert.Equal(t, name, s.Labels["workshop.service"], "%s: Alloy's service_name", name)
				assert.Equal(t, strconv.Itoa(n), s.Labels["workshop.stage"], name)
				assert.Contains(t, s.Networks["default"].Aliases, alias, name)
				assert.Equal(t, "stage"+strconv.Itoa(n), scraped[fmt.Sprintf("%s:%d", alias, port)], "%s: prometheus.yml scrapes %s:%d in job stage%d", name, alias, port, n)
				if assert.Len(t, s.Ports, 1, name) {
					m := portMapping.FindStringSubmatch(s.Ports[0])
					if assert.NotNil(t, m, "%s: publish ${VAR:-port}:port", name) {
						assert.Equal(t, fmt.Sprintf("STAGE%d_%s_PORT", n, strings.ToUpper(strings.ReplaceAll(name, "-", "_"))), m[1])
						assert.Equal(t, []string{strconv.Itoa(port), strconv.Itoa(port)}, m[2:], name)
					}
				}
				for env, peer := range map[string]string{"DICE_ROLLER_URL": "dice-roller", "DIE_SERVICE_URL": "die-service"} {
					if u, ok := s.Environment[env]; ok {
						assert.Equal(t, fmt.Sprintf("http://stage%d-%s:%d", n, peer, ports[peer]), u, "%s: %s", name, env)
					}
				}
			}
			if _, ok := c.Services["frontend"]; ok {
				assert.Contains(t, c.Services["frontend"].Environment, "DICE_ROLLER_URL")
			}
			if _, ok := c.Services["die-service"]; ok {
				assert.Contains(t, c.Services["dice-roller"].Environment, "DIE_SERVICE_URL")
			}
		})
	}
}

// TestComposeConfigValid: the compose tool accepts the stack's and every
// stage's compose file.
func TestComposeConfigValid(t *testing.T) {
	compose := requireCompose(t)
	root := repoRoot(t)
	files := map[string]int{filepath.Join(root, "stack", "compose.yaml"): 0}
	for n := range stagePorts {
		files[stageCompose(root, n)] = n
	}
	for f, n := range files {
		rel, _ := filepath.Rel(root, f)
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			var env []string
			if n > 0 { // a stage builds from what `workshop pack N` writes
				dir, _ := packStage(t, n)
				env = append(env, fmt.Sprintf("STAGE%d_BUILD_CONTEXT=%s", n, dir))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			argv := append(append([]string{}, compose...), "-f", f, "config", "-q")
			_, err := run(ctx, root, env, argv...)
			assert.NoError(t, err)
		})
	}
}

func randomID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}
