// Package container keeps container state on disk under the runtime root
// (--root) and drives a container through its lifecycle: created →
// running → stopped → deleted, as runc does.
package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"palisade.dev/runsc/config"
	"palisade.dev/runsc/sandbox"
	"palisade.dev/runsc/specutils"
)

// Status is a container's lifecycle state, as `runc state` reports it.
type Status string

// Statuses.
const (
	Created Status = "created"
	Running Status = "running"
	Stopped Status = "stopped"
)

// Container is a container's saved state.
type Container struct {
	ID          string            `json:"id"`
	BundleDir   string            `json:"bundle"`
	Spec        *specs.Spec       `json:"spec"`
	Status      Status            `json:"status"`
	Created     time.Time         `json:"created"`
	Sandbox     *sandbox.Sandbox  `json:"sandbox"`
	Annotations map[string]string `json:"annotations,omitempty"`

	stateDir string
}

var validID = regexp.MustCompile(`^[\w+.-]+$`)

func stateDir(conf *config.Config, id string) string { return filepath.Join(conf.RootDir, id) }

// Create creates a container from a bundle: its sandbox is booted but
// its process does not run until Start. stdio become the process's.
func Create(conf *config.Config, id, bundleDir string, stdio [3]*os.File, dieWithParent bool) (c *Container, retErr error) {
	if !validID.MatchString(id) || len(id) > 1024 {
		return nil, fmt.Errorf("invalid container id %q", id)
	}
	bundleDir, err := filepath.Abs(bundleDir)
	if err != nil {
		return nil, err
	}
	spec, err := specutils.ReadSpec(bundleDir)
	if err != nil {
		return nil, err
	}
	if err := specutils.CheckRoot(spec); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(conf.RootDir, 0o711); err != nil {
		return nil, fmt.Errorf("root directory: %w", err)
	}
	dir := stateDir(conf, id)
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("container %q already exists", id)
		}
		return nil, fmt.Errorf("state directory: %w", err)
	}
	defer func() {
		if retErr != nil {
			os.RemoveAll(dir)
		}
	}()
	sb, err := sandbox.Create(sandbox.CreateArgs{ID: id, Spec: spec, Conf: conf, StateDir: dir, Stdio: stdio, DieWithParent: dieWithParent})
	if err != nil {
		return nil, err
	}
	c = &Container{
		ID: id, BundleDir: bundleDir, Spec: spec, Status: Created, Created: time.Now().UTC(),
		Sandbox: sb, Annotations: spec.Annotations, stateDir: dir,
	}
	if err := c.save(); err != nil {
		sb.Destroy()
		return nil, err
	}
	return c, nil
}

// Load reads a container's saved state.
func Load(conf *config.Config, id string) (*Container, error) {
	if !validID.MatchString(id) {
		return nil, fmt.Errorf("invalid container id %q", id)
	}
	dir := stateDir(conf, id)
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("container %q does not exist", id)
		}
		return nil, err
	}
	var c Container
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("container %q: corrupt state: %w", id, err)
	}
	c.stateDir = dir
	if c.Status != Stopped && !c.Sandbox.IsRunning() {
		c.Status = Stopped
	}
	return &c, nil
}

// CollectDead removes the state of containers whose ID starts with prefix
// and whose sandbox is gone (their runsc was killed before it could clean
// up). State without a state file may belong to a create in progress and
// is left alone.
func CollectDead(conf *config.Config, prefix string) {
	ents, err := os.ReadDir(conf.RootDir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		c, err := Load(conf, e.Name())
		if err != nil || c.Sandbox.IsRunning() {
			continue
		}
		c.Destroy()
	}
}

// save writes the state atomically: a temporary file, fsync, rename.
func (c *Container) save() error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(c.stateDir, ".state-*")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("save state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(c.stateDir, "state.json"))
}

// Start runs the container's process.
func (c *Container) Start() error {
	if c.Status != Created {
		return fmt.Errorf("container %q is %s, not created", c.ID, c.Status)
	}
	if err := c.Sandbox.Start(c.ID); err != nil {
		return err
	}
	c.Status = Running
	return c.save()
}

// Wait waits for the container's process to exit and returns its wait
// status.
func (c *Container) Wait() (int, bool, error) {
	ws, err := c.Sandbox.Wait(c.ID)
	if err != nil {
		return 0, false, err
	}
	c.Status = Stopped
	c.save()
	if ws.Signaled() {
		return int(ws.Signal()), true, nil
	}
	return ws.ExitStatus(), false, nil
}

// Destroy stops the sandbox and removes the container's state.
func (c *Container) Destroy() error {
	if c.Sandbox != nil {
		c.Sandbox.Destroy()
	}
	return os.RemoveAll(c.stateDir)
}
