package stage

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Dockerfile is the one recipe of a stage's images, for compose
// (stages/stageN/compose.yaml, `make stageN-docker`) and for the containers
// of `workshop check` alike: FROM scratch, so building pulls nothing and
// works with no registry; one service's static binary, named by the build
// argument SERVICE, as /service; an unprivileged user. With probe the image
// also holds /probe, the healthcheck compose runs (scratch has no shell and
// no curl); the CLI waits for /healthz from outside and needs none.
func Dockerfile(probe bool) string {
	probeLine := ""
	if probe {
		probeLine = "# scratch has no shell and no curl: the healthcheck runs this tiny Go program.\n" +
			"COPY probe /probe\n"
	}
	return "# One image per service (the build argument SERVICE names it), from a\n" +
		"# static binary built on the host: FROM scratch pulls nothing.\n" +
		"FROM scratch\n" +
		"ARG SERVICE\n" +
		"COPY ${SERVICE} /service\n" +
		probeLine +
		"USER 65534:65534\n" +
		"ENTRYPOINT [\"/service\"]\n"
}

// The healthcheck program: a package of the workshop module, in the checkout.
const (
	probeModule  = "workshop"
	probePackage = "./cmd/probe"
)

// Pack writes into out the build context of the images of stage n's module
// at dir: each service's binary built for linux/arch, the probe, the
// Dockerfile (with the probe) and a .dockerignore that keeps the rest out. compose builds each service's image from it
// with `args: {SERVICE: <service>}`. root is the checkout, where the probe's
// source is.
func Pack(ctx context.Context, root string, n int, dir, arch, out string) error {
	services, err := Layout(n)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	target := Target{GOOS: "linux", GOARCH: arch}
	if _, err := Build(ctx, dir, services, target, out); err != nil {
		return err
	}
	if output, err := goBuild(ctx, filepath.Join(root, probeModule), target, filepath.Join(out, "probe"), probePackage); err != nil {
		return fmt.Errorf("building the probe: %w\n%s", err, output)
	}
	// The context is the folder: only the recipe, the binaries and the probe
	// go to the engine (not, say, the CLI's own builds in bin/<os>_<arch>).
	ignore := "*\n!Dockerfile\n!probe\n"
	for _, s := range services {
		ignore += "!" + s.Name + "\n"
	}
	if err := os.WriteFile(filepath.Join(out, ".dockerignore"), []byte(ignore), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "Dockerfile"), []byte(Dockerfile(true)), 0o644)
}

// ImageContext is the build context of one service's image, as a tar: the
// Dockerfile (without the probe) and the service's binary, nothing else.
// Build it with the build argument SERVICE set to service.
func ImageContext(service, binary string) (io.ReadSeeker, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, []byte(Dockerfile(false))}, {service, 0o755, bin}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return bytes.NewReader(buf.Bytes()), nil
}
