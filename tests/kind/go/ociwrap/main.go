// Command ociwrap is an OCI runtime that edits the bundle's spec and then runs
// runc. This VM's capability bounding set lacks CAP_SYS_RESOURCE, so runc fails
// to apply any spec that asks for it (every --privileged container does), and a
// negative oom_score_adj (kubelet's for its pods) needs that capability too.
// Registered as dockerd's default runtime and as containerd's runc BinaryName
// inside the Kind nodes, it removes both requests and hands over to runc.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

const dropped = "CAP_SYS_RESOURCE"

// realRuntime is runc unless KFB_OCIWRAP_RUNC names another binary.
func realRuntime() string {
	if r := os.Getenv("KFB_OCIWRAP_RUNC"); r != "" {
		return r
	}
	for _, p := range []string{"/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("runc"); err == nil {
		return p
	}
	return "/usr/sbin/runc"
}

// flagValue finds "--name value", "--name=value" or "-s value" after the subcommand.
func flagValue(args []string, long, short string) (string, bool) {
	for i, a := range args {
		switch {
		case (a == long || (short != "" && a == short)) && i+1 < len(args):
			return args[i+1], true
		case len(a) > len(long)+1 && a[:len(long)+1] == long+"=":
			return a[len(long)+1:], true
		}
	}
	return "", false
}

// subcommand is the first argument that is not a global flag or its value.
func subcommand(args []string) (int, string) {
	withValue := map[string]bool{"--root": true, "--log": true, "--log-format": true, "--criu": true, "--rootless": true}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if withValue[a] {
			i++
			continue
		}
		if len(a) > 0 && a[0] != '-' {
			return i, a
		}
	}
	return -1, ""
}

// fixProcess removes the capability and a negative oomScoreAdj from a process object.
func fixProcess(proc map[string]any) {
	if caps, ok := proc["capabilities"].(map[string]any); ok {
		for set, v := range caps {
			list, ok := v.([]any)
			if !ok {
				continue
			}
			kept := make([]any, 0, len(list))
			for _, c := range list {
				if c != dropped {
					kept = append(kept, c)
				}
			}
			caps[set] = kept
		}
	}
	if adj, ok := proc["oomScoreAdj"].(float64); ok && adj < 0 {
		delete(proc, "oomScoreAdj")
	}
}

// rewrite applies edit to the JSON object in path, keeping every other field.
func rewrite(path string, edit func(map[string]any)) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	edit(doc)
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, info.Mode().Perm())
}

func fixSpec(args []string) error {
	i, cmd := subcommand(args)
	if i < 0 {
		return nil
	}
	rest := args[i+1:]
	switch cmd {
	case "create", "run":
		bundle, ok := flagValue(rest, "--bundle", "-b")
		if !ok {
			bundle = "."
		}
		return rewrite(filepath.Join(bundle, "config.json"), func(spec map[string]any) {
			if proc, ok := spec["process"].(map[string]any); ok {
				fixProcess(proc)
			}
		})
	case "exec":
		if path, ok := flagValue(rest, "--process", "-p"); ok {
			return rewrite(path, fixProcess)
		}
	}
	return nil
}

func main() {
	args := os.Args[1:]
	if err := fixSpec(args); err != nil {
		fmt.Fprintf(os.Stderr, "ociwrap: %v\n", err)
		os.Exit(1)
	}
	runc := realRuntime()
	argv := append([]string{runc}, args...)
	if err := syscall.Exec(runc, argv, os.Environ()); err != nil {
		fmt.Fprintf(os.Stderr, "ociwrap: exec %s: %v\n", runc, err)
		os.Exit(1)
	}
}
