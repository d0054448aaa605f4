package localcluster

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// adminUser is the client certificate identity of the cluster's admin; the
// system:masters group may do anything.
const (
	adminUser  = "rollgate-admin"
	adminGroup = "system:masters"
)

// pki holds the file paths and PEM bytes of the cluster's certificates: one CA
// signing the API server's serving certificate and the admin's client
// certificate, and a key pair for service-account tokens.
type pki struct {
	// ca and caKey sign further client certificates (Cluster.UserConfig).
	ca                      *x509.Certificate
	caKey                   crypto.Signer
	caCert                  []byte
	adminCert, adminKey     []byte
	caFile                  string
	servingCert, servingKey string
	saPublic, saPrivate     string
}

// newPKI creates the certificates and keys under dir.
func newPKI(dir string) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: creating %s: %w", dir, err)
	}
	caKey, caCert, err := newCA()
	if err != nil {
		return nil, err
	}
	serving := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, net.ParseIP(serviceIP)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	servingCert, servingKey, err := issue(serving, caCert, caKey)
	if err != nil {
		return nil, err
	}
	admin := &x509.Certificate{
		Subject:     pkix.Name{CommonName: adminUser, Organization: []string{adminGroup}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	adminCert, adminKey, err := issue(admin, caCert, caKey)
	if err != nil {
		return nil, err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("cluster: generating the service-account key: %w", err)
	}
	saPublic, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return nil, fmt.Errorf("cluster: encoding the service-account key: %w", err)
	}
	p := &pki{
		ca: caCert, caKey: caKey,
		caCert: pemBlock("CERTIFICATE", caCert.Raw), adminCert: adminCert, adminKey: adminKey,
		caFile: filepath.Join(dir, "ca.crt"), servingCert: filepath.Join(dir, "apiserver.crt"),
		servingKey: filepath.Join(dir, "apiserver.key"), saPublic: filepath.Join(dir, "sa.pub"),
		saPrivate: filepath.Join(dir, "sa.key"),
	}
	saPrivate, err := privateKeyPEM(saKey)
	if err != nil {
		return nil, err
	}
	return p, writeFiles(map[string][]byte{
		p.caFile: p.caCert, p.servingCert: servingCert, p.servingKey: servingKey,
		p.saPublic: pemBlock("PUBLIC KEY", saPublic), p.saPrivate: saPrivate,
	})
}

// newCA returns a self-signed certificate authority.
func newCA() (*ecdsa.PrivateKey, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: generating the CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "rollgate-cluster-ca"},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	setValidity(tmpl)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: creating the CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: parsing the CA certificate: %w", err)
	}
	return key, cert, nil
}

// issue signs tmpl with the CA and returns the certificate and a new private
// key, both PEM-encoded.
func issue(tmpl, ca *x509.Certificate, caKey crypto.Signer) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: generating a key for %s: %w", tmpl.Subject.CommonName, err)
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	setValidity(tmpl)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: signing a certificate for %s: %w", tmpl.Subject.CommonName, err)
	}
	keyPEM, err = privateKeyPEM(key)
	if err != nil {
		return nil, nil, err
	}
	return pemBlock("CERTIFICATE", der), keyPEM, nil
}

// setValidity gives tmpl a random serial number and a validity covering any
// realistic run, with an hour of slack for clock skew.
func setValidity(tmpl *x509.Certificate) {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)) // never fails: crypto/rand panics instead
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(7 * 24 * time.Hour)
}

// privateKeyPEM encodes key as PKCS#8.
func privateKeyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("cluster: encoding a private key: %w", err)
	}
	return pemBlock("PRIVATE KEY", der), nil
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

// writeFiles writes each file readable by its owner only.
func writeFiles(files map[string][]byte) error {
	for name, data := range files {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			return fmt.Errorf("cluster: writing %s: %w", name, err)
		}
	}
	return nil
}
