package localcluster

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"path/filepath"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// UserConfig returns a client configuration and a kubeconfig file for a
// user authenticated by a new client certificate of the cluster's CA, with
// the given groups (e.g. "system:masters" for an admin). The API server
// sees, authorizes and audits that user name, so that one program's
// requests can be told from the others'.
func (c *Cluster) UserConfig(user string, groups ...string) (*rest.Config, string, error) {
	if c.certs == nil || c.certs.caKey == nil {
		return nil, "", errors.New("cluster: not started")
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: user, Organization: groups},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	certPEM, keyPEM, err := issue(tmpl, c.certs.ca, c.certs.caKey)
	if err != nil {
		return nil, "", err
	}
	cfg := rest.CopyConfig(c.Config)
	cfg.CertData, cfg.KeyData = certPEM, keyPEM
	const name = "rollgate"
	kubeconfig := clientcmdapi.Config{
		Clusters: map[string]*clientcmdapi.Cluster{name: {
			Server: c.Config.Host, CertificateAuthorityData: c.certs.caCert,
		}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{user: {ClientCertificateData: certPEM, ClientKeyData: keyPEM}},
		Contexts:       map[string]*clientcmdapi.Context{name: {Cluster: name, AuthInfo: user}},
		CurrentContext: name,
	}
	path := filepath.Join(c.Dir, "kubeconfig-"+user)
	if err := clientcmd.WriteToFile(kubeconfig, path); err != nil {
		return nil, "", fmt.Errorf("cluster: writing the kubeconfig of %s: %w", user, err)
	}
	return cfg, path, nil
}
