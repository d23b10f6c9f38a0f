// Command kfbnet is the Kind test ground's CNI daemon (kind's default-cni.yaml
// slot, where kind ships kindnetd). It runs on every node with host networking
// and, every few seconds:
//   - writes this node's CNI config (bridge + host-local over the node's
//     spec.podCIDR, portmap for hostPorts), which makes the node Ready;
//   - routes every other node's podCIDR via that node's InternalIP, so pods on
//     different nodes of the one Docker network reach each other.
//
// It reads nodes with plain HTTPS and the pod's service-account token, so it
// needs no client library.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

type nodeList struct {
	Items []struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			PodCIDR string `json:"podCIDR"`
		} `json:"spec"`
		Status struct {
			Addresses []struct {
				Type    string `json:"type"`
				Address string `json:"address"`
			} `json:"addresses"`
		} `json:"status"`
	} `json:"items"`
}

// apiBase prefers kind's CONTROL_PLANE_ENDPOINT: the Service IP needs
// kube-proxy, which may not have programmed the node yet.
func apiBase() string {
	if ep := os.Getenv("CONTROL_PLANE_ENDPOINT"); ep != "" {
		return "https://" + ep
	}
	return fmt.Sprintf("https://%s:%s", os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT"))
}

func client() (*http.Client, error) {
	ca, err := os.ReadFile(filepath.Join(saDir, "ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}, nil
}

func listNodes(c *http.Client) (*nodeList, error) {
	token, err := os.ReadFile(filepath.Join(saDir, "token"))
	if err != nil {
		return nil, err
	}
	req, _ := http.NewRequest("GET", apiBase()+"/api/v1/nodes", nil)
	req.Header.Set("Authorization", "Bearer "+string(bytes.TrimSpace(token)))
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("list nodes: HTTP %d", resp.StatusCode)
	}
	var nl nodeList
	return &nl, json.NewDecoder(resp.Body).Decode(&nl)
}

func cniConfig(podCIDR string) []byte {
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "kfbnet",
		"plugins": []any{
			map[string]any{
				"type": "bridge", "bridge": "kfb0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
				"ipam": map[string]any{
					"type":   "host-local",
					"ranges": []any{[]any{map[string]any{"subnet": podCIDR}}},
					"routes": []any{map[string]any{"dst": "0.0.0.0/0"}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]any{"portMappings": true}},
		},
	}
	out, _ := json.MarshalIndent(conf, "", "  ")
	return out
}

// writeIfChanged replaces the file atomically so the runtime never reads half of it.
func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	log.Printf("writing %s", path)
	return os.Rename(tmp, path)
}

func internalIP(addrs []struct {
	Type    string `json:"type"`
	Address string `json:"address"`
}) string {
	for _, a := range addrs {
		if a.Type == "InternalIP" {
			return a.Address
		}
	}
	return ""
}

func sync(c *http.Client, self, confDir string) error {
	nl, err := listNodes(c)
	if err != nil {
		return err
	}
	for _, n := range nl.Items {
		if n.Spec.PodCIDR == "" {
			continue
		}
		if n.Metadata.Name == self {
			if err := writeIfChanged(filepath.Join(confDir, "10-kfbnet.conflist"), cniConfig(n.Spec.PodCIDR)); err != nil {
				return err
			}
			continue
		}
		ip := internalIP(n.Status.Addresses)
		if ip == "" {
			continue
		}
		if out, err := exec.Command("ip", "route", "replace", n.Spec.PodCIDR, "via", ip).CombinedOutput(); err != nil {
			return fmt.Errorf("route %s via %s: %v: %s", n.Spec.PodCIDR, ip, err, out)
		}
	}
	return nil
}

func main() {
	self := os.Getenv("NODE_NAME")
	confDir := os.Getenv("CNI_CONF_DIR")
	if confDir == "" {
		confDir = "/etc/cni/net.d"
	}
	c, err := client()
	if err != nil {
		log.Fatal(err)
	}
	for {
		if err := sync(c, self, confDir); err != nil {
			log.Print(err)
		}
		time.Sleep(5 * time.Second)
	}
}
