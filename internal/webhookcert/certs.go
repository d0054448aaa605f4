/*
Copyright 2026 The rollgate Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package webhookcert

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Keys of the certificate Secret, as cert-manager names them.
const (
	KeyCACert  = "ca.crt"
	KeyCAKey   = "ca.key"
	KeyTLSCert = "tls.crt"
	KeyTLSKey  = "tls.key"
	// KeyCABundle holds the CAs the webhook configurations trust: ca.crt
	// and, after a renewal, the CA it replaced (until the next renewal or
	// its expiry), for replicas that still serve the old certificate.
	KeyCABundle = "ca-bundle.crt"
)

// bundle is a CA and a serving certificate it signed, PEM encoded.
type bundle map[string][]byte

// newBundle makes a CA and a serving certificate for hosts (DNS names or IP
// addresses), valid from now for validity.
func newBundle(hosts []string, now time.Time, validity time.Duration) (bundle, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "rollgate-webhook-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(2 * validity), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: hosts[0]},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(validity), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	return bundle{KeyCACert: pemOf("CERTIFICATE", caDER), KeyCAKey: keyPEM(caKey),
		KeyTLSCert: pemOf("CERTIFICATE", der), KeyTLSKey: keyPEM(key)}, nil
}

// verify checks that the bundle is a key pair whose certificate its CA
// signed, valid at now for every host, and returns when it expires.
func (b bundle) verify(hosts []string, now time.Time) (time.Time, error) {
	pair, err := tls.X509KeyPair(b[KeyTLSCert], b[KeyTLSKey])
	if err != nil {
		return time.Time{}, fmt.Errorf("the serving key pair: %w", err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return time.Time{}, fmt.Errorf("parsing the serving certificate: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(b[KeyCACert]) {
		return time.Time{}, errors.New("no CA certificate")
	}
	opts := x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, h := range hosts {
		opts.DNSName = h
		if _, err := cert.Verify(opts); err != nil {
			return time.Time{}, fmt.Errorf("verifying the serving certificate for %s: %w", h, err)
		}
	}
	return cert.NotAfter, nil
}

// trust returns the caBundle for the webhook configurations: the bundle's
// CA, then every other CA of its KeyCABundle that is still valid at now.
func (b bundle) trust(now time.Time) []byte {
	out := append([]byte{}, b[KeyCACert]...)
	current, _ := pem.Decode(b[KeyCACert])
	for _, ca := range parseCerts(b[KeyCABundle]) {
		if (current != nil && bytes.Equal(ca.Raw, current.Bytes)) || !ca.IsCA || !now.Before(ca.NotAfter) {
			continue
		}
		out = append(out, pemOf("CERTIFICATE", ca.Raw)...)
	}
	return out
}

// validCA reports whether a PEM CA certificate parses and is valid at now.
func validCA(data []byte, now time.Time) bool {
	block, _ := pem.Decode(data)
	if block == nil {
		return false
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	return err == nil && ca.IsCA && now.Before(ca.NotAfter)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

func pemOf(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

func keyPEM(key *ecdsa.PrivateKey) []byte {
	der, _ := x509.MarshalECPrivateKey(key)
	return pemOf("EC PRIVATE KEY", der)
}
