package runtime

import (
	"context"
	"errors"
	"os"
	"strconv"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/go-o11y-workshop/kit/workshop/stage"
)

// Leftovers counts what Sweep found.
type Leftovers struct{ Containers, Networks, Images int }

// Sweep removes the containers, networks and images that earlier runs left
// behind: those carrying Label whose CLI process is gone (killed before it
// could clean up). With own set it removes instead what this very process
// created and still has (tests use it to prove nothing is left); it never
// touches the objects of another live process, such as a check running in
// parallel.
func Sweep(ctx context.Context, own bool) (Leftovers, error) {
	prepareTestcontainers()
	var found Leftovers
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return found, noEngine(err)
	}
	defer cli.Close()
	self := strconv.Itoa(os.Getpid())
	stale := func(labels map[string]string) bool {
		v, ok := labels[Label]
		switch {
		case !ok:
			return false
		case own:
			return v == self
		default:
			return !stage.ProcessAlive(v)
		}
	}
	filter := make(client.Filters).Add("label", Label)
	var errs []error

	containers, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return found, err
	}
	for _, c := range containers.Items {
		if stale(c.Labels) {
			found.Containers++
			_, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			errs = append(errs, err)
		}
	}
	networks, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		return found, err
	}
	for _, n := range networks.Items {
		if stale(n.Labels) {
			found.Networks++
			_, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
			errs = append(errs, err)
		}
	}
	images, err := cli.ImageList(ctx, client.ImageListOptions{Filters: filter})
	if err != nil {
		return found, err
	}
	for _, img := range images.Items {
		if stale(img.Labels) {
			found.Images++
			_, err := cli.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true})
			errs = append(errs, err)
		}
	}
	return found, errors.Join(errs...)
}
