package stage

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// The one recipe of a stage's images: FROM scratch, so nothing is pulled
// and it works with no registry; one service's static binary as /service,
// its entrypoint; an unprivileged user; and, in compose's images, the
// healthcheck program as /probe (scratch has no shell and no curl; the CLI
// waits for /healthz from outside and needs none). Dockerfile renders it for
// `docker build` (compose); ImageArchive for `docker load` (the CLI's
// containers), which skips the builder's container per step: 0.6–1.4 s for
// an image here against 3.5 s built.
const (
	imageUser   = "65534:65534"
	imageBinary = "/service"
	imageProbe  = "/probe"
	// imageEnv makes the services listen on every interface of their
	// container (they listen on loopback by default, for a laptop on a
	// shared wifi); the engine publishes only the ports asked for.
	imageEnv = "LISTEN_HOST=0.0.0.0"
)

// Dockerfile is the recipe as compose builds it from Pack's folder, one
// image per service, named by the build argument SERVICE.
func Dockerfile() string {
	return "# One image per service (the build argument SERVICE names it), from a\n" +
		"# static binary built on the host: FROM scratch pulls nothing.\n" +
		"FROM scratch\n" +
		"ARG SERVICE\n" +
		"COPY ${SERVICE} " + imageBinary + "\n" +
		"# scratch has no shell and no curl: the healthcheck runs this tiny Go program.\n" +
		"COPY probe " + imageProbe + "\n" +
		"USER " + imageUser + "\n" +
		"ENV " + imageEnv + "\n" +
		"ENTRYPOINT [\"" + imageBinary + "\"]\n"
}

// ImageArchive writes to w the image of one service, tagged tag, as
// `docker load` reads it (a docker-archive: manifest, config, one layer
// holding the binary): the recipe without the probe, for linux/arch, with
// labels.
func ImageArchive(w io.Writer, binary, arch, tag string, labels map[string]string) error {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return err
	}
	var layer bytes.Buffer
	if err := writeTar(&layer, tarFile{strings.TrimPrefix(imageBinary, "/"), 0o755, bin}); err != nil {
		return err
	}
	config, err := json.Marshal(map[string]any{
		"architecture": arch,
		"os":           "linux",
		"config":       map[string]any{"User": imageUser, "Env": []string{imageEnv}, "Entrypoint": []string{imageBinary}, "Labels": labels},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{fmt.Sprintf("sha256:%x", sha256.Sum256(layer.Bytes()))}},
	})
	if err != nil {
		return err
	}
	configName := fmt.Sprintf("%x.json", sha256.Sum256(config))
	manifest, err := json.Marshal([]map[string]any{{"Config": configName, "RepoTags": []string{tag}, "Layers": []string{"layer.tar"}}})
	if err != nil {
		return err
	}
	return writeTar(w, tarFile{"layer.tar", 0o644, layer.Bytes()}, tarFile{configName, 0o644, config},
		tarFile{"manifest.json", 0o644, manifest})
}

type tarFile struct {
	name string
	mode int64
	data []byte
}

func writeTar(w io.Writer, files ...tarFile) error {
	tw := tar.NewWriter(w)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	return tw.Close()
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
	return os.WriteFile(filepath.Join(out, "Dockerfile"), []byte(Dockerfile()), 0o644)
}
