package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Cleanup removes every container and network labelled with the run id:
// what a testbed that died (SIGKILL, power loss) left of its run. It
// returns what it removed, as Resources names it.
func Cleanup(ctx context.Context, runID string) ([]string, error) {
	if runID == "" {
		return nil, errors.New("cleanup: empty run id")
	}
	p, err := connect()
	if err != nil {
		return nil, err
	}
	defer p.Close()
	return removeRun(ctx, p.Client(), runID)
}

// CleanupAll removes every container and network of every run, and the
// images EnsureImage built (those no container uses): `testbed clean`.
// Runs still going lose their containers too. It returns the containers
// and networks it removed, as Resources names them.
func CleanupAll(ctx context.Context) ([]string, error) {
	p, err := connect()
	if err != nil {
		return nil, err
	}
	defer p.Close()
	cli := p.Client()
	removed, err := remove(ctx, cli, LabelRun)
	errs := []error{err}
	imgs, err := cli.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("label", LabelImage)})
	if err != nil {
		return removed, errors.Join(append(errs, fmt.Errorf("list testbed images: %w", err))...)
	}
	for _, img := range imgs.Items {
		// PruneChildren takes the builder's untagged intermediate images
		// along; without it each build would leave one behind.
		if _, err := cli.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{PruneChildren: true}); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove image %s: %w", img.ID, err))
		}
	}
	return removed, errors.Join(errs...)
}

// CleanupStale removes the runs whose testbed is gone: labelled as started
// by a process of this host that no longer exists. A run of a live testbed,
// or of another host sharing the engine, is left alone. It returns the run
// ids it removed.
func CleanupStale(ctx context.Context) ([]string, error) {
	p, err := connect()
	if err != nil {
		return nil, err
	}
	defer p.Close()
	cli := p.Client()
	f := make(client.Filters).Add("label", LabelRun, LabelOwner)
	owners := map[string]string{} // run id -> owner
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list containers of earlier runs: %w", err)
	}
	for _, c := range cs.Items {
		owners[c.Labels[LabelRun]] = c.Labels[LabelOwner]
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list networks of earlier runs: %w", err)
	}
	for _, n := range ns.Items {
		owners[n.Labels[LabelRun]] = n.Labels[LabelOwner]
	}
	host, _ := os.Hostname()
	var removed []string
	var errs []error
	for run, owner := range owners {
		if !dead(owner, host) {
			continue
		}
		if _, err := removeRun(ctx, cli, run); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, run)
	}
	slices.Sort(removed)
	return removed, errors.Join(errs...)
}

// dead reports whether owner (host:pid) names a process of this host that
// no longer exists.
func dead(owner, host string) bool {
	h, pidText, ok := strings.Cut(owner, ":")
	if !ok || h != host {
		return false
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// removeRun removes every container, then every network, of a run.
func removeRun(ctx context.Context, cli client.APIClient, runID string) ([]string, error) {
	return remove(ctx, cli, LabelRun+"="+runID)
}

// remove deletes the containers (running or not, with their anonymous
// volumes) and then the networks carrying label, going on past failures,
// and returns what it removed.
func remove(ctx context.Context, cli client.APIClient, label string) ([]string, error) {
	cs, ns, err := labelled(ctx, cli, label)
	errs := []error{err}
	var removed []string
	for _, c := range cs {
		_, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		switch {
		case err == nil:
			removed = append(removed, containerEntry(c))
		case !errdefs.IsNotFound(err):
			errs = append(errs, fmt.Errorf("remove container %s: %w", strings.Join(c.Names, ","), err))
		}
	}
	for _, n := range ns {
		_, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
		switch {
		case err == nil:
			removed = append(removed, networkEntry(n))
		case !errdefs.IsNotFound(err):
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
		}
	}
	return removed, errors.Join(errs...)
}

// labelled lists the containers and the networks carrying label. When one
// list fails the other is still returned, with the error.
func labelled(ctx context.Context, cli client.APIClient, label string) ([]container.Summary, []network.Summary, error) {
	f := make(client.Filters).Add("label", label)
	var errs []error
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		errs = append(errs, fmt.Errorf("list containers labelled %s: %w", label, err))
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		errs = append(errs, fmt.Errorf("list networks labelled %s: %w", label, err))
	}
	return cs.Items, ns.Items, errors.Join(errs...)
}

func containerEntry(c container.Summary) string {
	return "container " + strings.TrimPrefix(strings.Join(c.Names, ","), "/")
}

func networkEntry(n network.Summary) string { return "network " + n.Name }

// Resources lists what is labelled with the run id, or with any run when
// runID is empty, as "container <name>" and "network <name>": what Cleanup
// or CleanupAll would remove, and what must be gone after a run.
func Resources(ctx context.Context, runID string) ([]string, error) {
	p, err := connect()
	if err != nil {
		return nil, err
	}
	defer p.Close()
	label := LabelRun
	if runID != "" {
		label += "=" + runID
	}
	cs, ns, err := labelled(ctx, p.Client(), label)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range cs {
		out = append(out, containerEntry(c))
	}
	for _, n := range ns {
		out = append(out, networkEntry(n))
	}
	slices.Sort(out)
	return out, nil
}
