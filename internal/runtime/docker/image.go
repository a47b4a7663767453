package docker

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// EnsureImage returns the tag of an image that holds the static binary at
// binaryPath, FROM scratch, with the binary as entrypoint, building it
// through testcontainers' Dockerfile build the first time. The tag is the
// binary's content hash, so each binary is built into an image once and
// reused by every later run. Nothing is pulled: scratch is no image.
func EnsureImage(ctx context.Context, binaryPath string) (string, error) {
	if err := checkStatic(binaryPath); err != nil {
		return "", fmt.Errorf("image of %s: %w", binaryPath, err)
	}
	sum, err := fileHash(binaryPath)
	if err != nil {
		return "", fmt.Errorf("image of %s: %w", binaryPath, err)
	}
	base := filepath.Base(binaryPath)
	tag := imageTag(base, sum)
	p, err := connect()
	if err != nil {
		return "", err
	}
	defer p.Close()
	if _, err := p.Client().ImageInspect(ctx, tag); err == nil {
		return tag, nil
	} else if !errdefs.IsNotFound(err) {
		return "", fmt.Errorf("inspect image %s: %w", tag, err)
	}

	dir, err := os.MkdirTemp("", "testbed-image-")
	if err != nil {
		return "", fmt.Errorf("image of %s: build context: %w", binaryPath, err)
	}
	defer os.RemoveAll(dir)
	entry := dockerName(base)
	if err := linkOrCopy(binaryPath, filepath.Join(dir, entry)); err != nil {
		return "", fmt.Errorf("image of %s: build context: %w", binaryPath, err)
	}
	dockerfile := fmt.Sprintf("FROM scratch\nCOPY %s /%s\nENTRYPOINT [\"/%s\"]\n", entry, entry, entry)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return "", fmt.Errorf("image of %s: write Dockerfile: %w", binaryPath, err)
	}
	repo, version, _ := strings.Cut(tag, ":")
	_, err = p.BuildImage(ctx, &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		Context: dir, Repo: repo, Tag: version, KeepImage: true,
		BuildOptionsModifier: func(o *client.ImageBuildOptions) {
			o.Labels = map[string]string{LabelImage: base}
		},
	}})
	if err != nil {
		return "", fmt.Errorf("build image %s: %w", tag, err)
	}
	return tag, nil
}

// checkStatic fails for anything an image FROM scratch cannot run: not an
// ELF executable, or one that needs a dynamic loader and libc.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("not a Linux executable: %w", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("dynamically linked, and an image FROM scratch has no libc: build it with CGO_ENABLED=0")
		}
	}
	return nil
}

func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// linkOrCopy puts src at dst without copying when both are on one file
// system.
func linkOrCopy(src, dst string) error {
	if os.Link(src, dst) == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
