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
	"github.com/moby/moby/client"
)

// Cleanup removes every container and network labelled with the run id:
// what a testbed that died (SIGKILL, power loss) left of its run.
func Cleanup(ctx context.Context, runID string) error {
	if runID == "" {
		return errors.New("cleanup: empty run id")
	}
	p, err := connect()
	if err != nil {
		return err
	}
	defer p.Close()
	return removeRun(ctx, p.Client(), runID)
}

// CleanupAll removes every container and network of every run, and the
// images EnsureImage built (those no container uses): `testbed clean`.
// Runs still going lose their containers too.
func CleanupAll(ctx context.Context) error {
	p, err := connect()
	if err != nil {
		return err
	}
	defer p.Close()
	cli := p.Client()
	errs := []error{remove(ctx, cli, LabelRun)}
	imgs, err := cli.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("label", LabelImage)})
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("list testbed images: %w", err))...)
	}
	for _, img := range imgs.Items {
		// PruneChildren takes the builder's untagged intermediate images
		// along; without it each build would leave one behind.
		if _, err := cli.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{PruneChildren: true}); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove image %s: %w", img.ID, err))
		}
	}
	return errors.Join(errs...)
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
		if err := removeRun(ctx, cli, run); err != nil {
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
func removeRun(ctx context.Context, cli client.APIClient, runID string) error {
	return remove(ctx, cli, LabelRun+"="+runID)
}

// remove deletes the containers (running or not, with their anonymous
// volumes) and then the networks carrying label, going on past failures.
func remove(ctx context.Context, cli client.APIClient, label string) error {
	f := make(client.Filters).Add("label", label)
	var errs []error
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		errs = append(errs, fmt.Errorf("list containers labelled %s: %w", label, err))
	}
	for _, c := range cs.Items {
		_, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove container %s: %w", strings.Join(c.Names, ","), err))
		}
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		errs = append(errs, fmt.Errorf("list networks labelled %s: %w", label, err))
	}
	for _, n := range ns.Items {
		if _, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Resources lists what is labelled with the run id, or with any run when
// runID is empty, as "container <name>" and "network <name>": what Cleanup
// or CleanupAll would remove, and what must be gone after a run.
func Resources(ctx context.Context, runID string) ([]string, error) {
	p, err := connect()
	if err != nil {
		return nil, err
	}
	defer p.Close()
	cli := p.Client()
	label := LabelRun
	if runID != "" {
		label += "=" + runID
	}
	f := make(client.Filters).Add("label", label)
	var out []string
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list containers labelled %s: %w", label, err)
	}
	for _, c := range cs.Items {
		out = append(out, "container "+strings.TrimPrefix(strings.Join(c.Names, ","), "/"))
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list networks labelled %s: %w", label, err)
	}
	for _, n := range ns.Items {
		out = append(out, "network "+n.Name)
	}
	slices.Sort(out)
	return out, nil
}
