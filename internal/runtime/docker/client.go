package docker

import (
	"context"
	"fmt"
	"os"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/log"
)

// ryukEnv turns testcontainers' reaper off. The reaper is an image
// (testcontainers/ryuk) that cannot be pulled without a registry; this
// runtime reaps by its own labels instead (Close, Cleanup, CleanupStale).
const ryukEnv = "TESTCONTAINERS_RYUK_DISABLED"

// connect returns a testcontainers Docker provider, quiet (errors are
// returned, not logged), with the reaper off unless the user asked for it.
// testcontainers reads its configuration once per process, so the variable
// is set before the first provider is made.
func connect() (*testcontainers.DockerProvider, error) {
	if _, set := os.LookupEnv(ryukEnv); !set {
		if err := os.Setenv(ryukEnv, "true"); err != nil {
			return nil, fmt.Errorf("disable the testcontainers reaper: %w", err)
		}
	}
	p, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(log.NewNoopLogger()))
	if err != nil {
		return nil, fmt.Errorf("connect to docker: %w", err)
	}
	return p, nil
}

// Available returns nil when a Docker engine answers, and why not
// otherwise: the reason a docker run or test cannot go ahead.
func Available(ctx context.Context) error {
	p, err := connect()
	if err != nil {
		return err
	}
	defer p.Close()
	if _, err := p.Client().Ping(ctx, client.PingOptions{}); err != nil {
		return fmt.Errorf("ping docker: %w", err)
	}
	return nil
}
